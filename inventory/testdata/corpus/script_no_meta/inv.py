#!/usr/bin/env python3
import sys, json
if sys.argv[1] == '--list':
    print(json.dumps({'g': {'hosts': ['a', 'b']}, 'all': {'vars': {'z': 1}}}))
else:
    print(json.dumps({'hv': sys.argv[2]}))
