"""MLPS level-3 host baseline: catalog, evidence evaluation, reports, remediation.

Pure logic lives here (no hosts needed); the CLI (cloudctl/cli/baseline.py) and the Ansible
playbooks (playbooks/baseline/) are the edges.
"""
