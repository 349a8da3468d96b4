"""gunicorn entry point of one lab service; runs inside the services venv, not cloudctl's.

oslo.config parses ``sys.argv`` when a service module is imported; under gunicorn that
holds gunicorn's own flags, the worker dies at import and requests hang. So the argument
list is reset first, then the service named by ``CLOUDCTL_LAB_SERVICE`` is imported.
Keystone, Neutron and Nova find their files through ``OS_<SERVICE>_CONFIG_DIR``; Cinder
has no such variable and gets ``--config-file``.
"""

import os
import sys

_service = os.environ["CLOUDCTL_LAB_SERVICE"]
sys.argv = [sys.argv[0]]

if _service == "keystone":
    from keystone.wsgi.api import application
elif _service == "neutron":
    from neutron.wsgi.api import application
elif _service == "nova":
    from nova.wsgi.osapi_compute import application
elif _service == "cinder":
    sys.argv += ["--config-file", os.environ["CLOUDCTL_LAB_CONFIG"]]
    from cinder.wsgi.api import application
else:
    raise SystemExit(f"unknown lab service {_service!r}")

__all__ = ["application"]
