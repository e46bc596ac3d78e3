#!/usr/bin/env python3
"""Entry point of the Kubernetes API test double (see README.md in this folder).

    python3 Tests/KubeAPIDouble/kube_double.py --dir DIR [--port 0] [--token knot-test-token]
        [--ready-delay 0.3] [--bookmark-interval 1.0] [--quiet]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kubedouble.server import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
