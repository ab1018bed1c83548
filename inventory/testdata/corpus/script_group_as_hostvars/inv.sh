#!/bin/sh
echo '{"solo": {"a": 1}, "grp": {"hosts": ["x"]}, "_meta": {"hostvars": {}}}'
