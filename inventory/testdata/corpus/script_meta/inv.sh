#!/bin/sh
if [ "$1" = --list ]; then cat <<'E'
{"web": {"hosts": ["w1", "w2"], "vars": {"v": 1}, "children": ["db"]}, "db": ["d1"], "_meta": {"hostvars": {"w1": {"ansible_host": "10.0.0.1"}, "d1": {"x": "010"}}}}
E
fi
