"""Department tenants on OpenStack: desired state from files, diff against the cloud, apply.

Only :mod:`cloudctl.tenant.openstack_adapter` talks to OpenStack; everything else is pure.
"""
