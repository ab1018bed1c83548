#!/usr/bin/python
# -*- coding: utf-8 -*-
# murderctl_deploy: drive `murderctl deploy --json` from a playbook.
# Runs on the control node; murderctl itself connects to the hosts over SSH.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: murderctl_deploy
short_description: Copy one big file to many hosts, peer-to-peer, with murderctl
description:
  - Runs C(murderctl deploy --json) on the control node. murderctl reads the
    same Ansible inventory, connects to every selected host over SSH, and the
    hosts fetch the file's pieces from one another over BitTorrent, so the
    control node sends about one copy whatever the fleet size.
  - >-
    Run it once, on the control node - C(delegate_to: localhost) with
    C(run_once: true) in a play over the target hosts (see EXAMPLES), or a play
    on C(localhost). It does not run on the targets, and it needs no Python on
    them.
  - >-
    The module cannot read the play's magic variables itself. Set
    I(inventory) to the play's C(ansible_inventory_sources) and I(limit) to its
    C(ansible_limit), defaulting to C(all), as EXAMPLES does, so that murderctl
    targets exactly the inventory and C(--limit) the playbook was run with.
  - The result is C(changed) when any host got a new copy. A host that already
    has a file with the same SHA-256 at I(dest) is left alone and reported C(ok),
    so a second run with the same file reports C(changed=false).
  - The module fails when any host failed or was unreachable; I(msg) names every
    such host with its reason, and I(results) has all hosts.
  - No secret goes on murderctl's command line. I(private_key) is a path.
    murderctl uses ssh-agent when C(SSH_AUTH_SOCK) is set in the environment it
    inherits; a passphrase-protected key must be loaded into ssh-agent.
version_added: "0.1.0"
author: murderctl authors
options:
  src:
    description:
      - The local file to copy, on the control node. Prefer an absolute path -
        a relative one is taken from the module's working directory, which
        for a task in a playbook is the playbook's directory, not the one
        ansible-playbook was started in (playbooks/deploy.yml makes I(src)
        absolute before calling the module).
    type: path
    required: true
  dest:
    description:
      - The remote destination. A path ending in C(/) is a directory to write
        the file into under its own name; any other path is the file's full
        name.
      - Default is the remote user's login directory, under the file's name.
    type: str
  inventory:
    description:
      - Inventory sources, as for C(ansible-playbook -i) (files, directories,
        scripts or C(host1,host2,) lists).
      - Pass C("{{ ansible_inventory_sources }}") to use the play's own
        inventory. When omitted, murderctl uses C(ANSIBLE_INVENTORY) or the
        C(inventory) setting of C(ansible.cfg), as Ansible would.
    type: list
    elements: str
  limit:
    description:
      - Host pattern selecting the hosts, with Ansible's pattern syntax
        (groups, C(:), C(:&), C(:!), globs, C(~regex), C(@file)).
      - Pass C("{{ ansible_limit | default('all') }}") to honour the
        playbook's C(--limit).
    type: str
    default: all
  timeout:
    description:
      - Give up on the whole deploy after this long. Seconds as a number, or a
        duration such as C(90s), C(10m) or C(1h30m). C(0) means no limit.
    type: str
  connect_timeout:
    description:
      - SSH connect timeout per host, in seconds. Default is C(ansible.cfg)'s
        C(timeout), or 10.
    type: int
  forks:
    description:
      - How many hosts are set up in parallel. Default is C(ansible.cfg)'s
        C(forks) when set, else 50.
    type: int
  private_key:
    description:
      - SSH private key file, as C(--private-key). The host variable
        C(ansible_ssh_private_key_file) still wins for hosts that set it.
    type: path
  remote_user:
    description:
      - Connect as this user, as C(-u). The host variable C(ansible_user)
        still wins for hosts that set it.
    type: str
  murderctl_path:
    description:
      - The murderctl binary. Default is C(murderctl) found on C(PATH).
        C(murderctl-peer) must be beside it (C(make build) puts both in
        C(bin/)).
    type: path
notes:
  - Check mode is supported, but murderctl cannot tell which hosts already
    have the file without connecting to them. In check mode the module checks
    I(src), hashes it, resolves the target hosts with
    C(murderctl inventory --list) and returns them in I(targets), and reports
    the task as skipped. No host is contacted.
  - Exit codes of murderctl map to the result as C(0) success, C(2) a host
    failed, C(4) a host unreachable, C(1) an error not tied to a host, C(5) bad
    options, C(99) interrupted; all but C(0) fail the task, with I(rc) set.
requirements:
  - murderctl and murderctl-peer on the control node
"""

EXAMPLES = r"""
- name: Ship a release to the web fleet
  hosts: web
  gather_facts: false
  tasks:
    - name: Deploy the tarball peer-to-peer
      murderctl_deploy:
        src: /srv/build/release.tar.gz
        dest: /opt/releases/
        inventory: "{{ ansible_inventory_sources }}"
        limit: "{{ ansible_limit | default('web') }}"
        timeout: 15m
      delegate_to: localhost
      run_once: true
      register: shipped

    - name: Show who got a new copy
      ansible.builtin.debug:
        var: shipped.changed_hosts
      run_once: true
"""

RETURN = r"""
changed:
  description: Whether any host got a new copy.
  returned: always
  type: bool
rc:
  description: murderctl's exit code.
  returned: when murderctl ran
  type: int
  sample: 0
cmd:
  description: The murderctl command line that ran (it holds no secret).
  returned: when murderctl ran
  type: list
  elements: str
sha256:
  description: SHA-256 of I(src), hex.
  returned: success, failure with a report, check mode
  type: str
size:
  description: Size of I(src) in bytes.
  returned: success, failure with a report, check mode
  type: int
duration:
  description: Wall time of the deploy, in seconds.
  returned: when murderctl printed a report
  type: float
seeder_uploaded:
  description: Bytes the control node's seeder sent; about one copy of the file on a healthy fleet.
  returned: when murderctl printed a report
  type: int
results:
  description: One entry per host, as C(murderctl deploy --json) prints them.
  returned: when murderctl printed a report
  type: list
  elements: dict
  contains:
    host: {description: Inventory host name., type: str}
    status: {description: "C(ok), C(changed), C(failed) or C(unreachable).", type: str}
    exit_code: {description: The remote peer's exit code., type: int}
    reason: {description: Why the host failed or was unreachable., type: str}
    stderr: {description: The remote peer's stderr., type: str}
    dest: {description: The file's full path on the host., type: str}
    downloaded: {description: Bytes the host downloaded., type: int}
    uploaded: {description: Bytes the host sent to other hosts., type: int}
    bad_peers: {description: Peers that sent corrupt pieces., type: list}
ok_hosts:
  description: Hosts that already had the file.
  returned: when murderctl printed a report
  type: list
  elements: str
changed_hosts:
  description: Hosts that got a new copy.
  returned: when murderctl printed a report
  type: list
  elements: str
failed_hosts:
  description: Hosts where the deploy failed.
  returned: when murderctl printed a report
  type: list
  elements: str
unreachable_hosts:
  description: Hosts murderctl could not reach.
  returned: when murderctl printed a report
  type: list
  elements: str
targets:
  description: In check mode, the hosts a deploy would target.
  returned: check mode
  type: list
  elements: str
stderr:
  description: murderctl's stderr (progress lines and errors).
  returned: when murderctl ran
  type: str
"""

import json
import os
import re

from ansible.module_utils.basic import AnsibleModule

# murderctl's exit codes (ansible-playbook's).
RC_MEANING = {
    1: "error",
    2: "a host failed",
    4: "a host was unreachable",
    5: "bad options",
    99: "interrupted",
}

_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|\u00b5s|ms|s|m|h))+$")


def go_duration(value):
    """Turn seconds or a Go duration into a Go duration, or None if invalid."""
    value = value.strip()
    if re.match(r"^\d+$", value):
        return value + "s"
    if _DURATION.match(value):
        return value
    return None


def target_args(p):
    """The inventory, pattern and connection flags shared by deploy and inventory."""
    args = []
    for src in p["inventory"] or []:
        if not src:
            continue
        args += ["-i", src]
    args += ["--limit", p["limit"] or "all"]
    return args


def deploy_argv(binary, p):
    argv = [binary, "deploy", "--json"] + target_args(p)
    if p["dest"]:
        argv += ["--dest", p["dest"]]
    if p["timeout"]:
        argv += ["--timeout", go_duration(p["timeout"])]
    if p["connect_timeout"] is not None:
        argv += ["--connect-timeout", "%ds" % p["connect_timeout"]]
    if p["forks"] is not None:
        argv += ["--forks", str(p["forks"])]
    if p["private_key"]:
        argv += ["--private-key", p["private_key"]]
    if p["remote_user"]:
        argv += ["--user", p["remote_user"]]
    # "--" so a src starting with "-" is never read as a flag.
    argv += ["--", p["src"]]
    return argv


def warnings_from(module, stderr):
    for line in stderr.splitlines():
        if line.startswith("[WARNING]: "):
            module.warn("murderctl: " + line[len("[WARNING]: "):])


def summarize(report):
    """Per-status host lists and the result fields taken from a report."""
    by = {"ok": [], "changed": [], "failed": [], "unreachable": []}
    results = report.get("results") or []
    for r in results:
        by.setdefault(r.get("status", "failed"), []).append(r.get("host", "?"))
    return {
        "results": results,
        "sha256": report.get("sha256"),
        "size": report.get("size"),
        "duration": round((report.get("duration_ns") or 0) / 1e9, 3),
        "seeder_uploaded": report.get("seeder_uploaded", 0),
        "ok_hosts": by["ok"],
        "changed_hosts": by["changed"],
        "failed_hosts": by["failed"],
        "unreachable_hosts": by["unreachable"],
    }


def failure_message(rc, summary, stderr):
    """Name every failed or unreachable host with its reason."""
    bad = [r for r in summary.get("results", []) if r.get("status") in ("failed", "unreachable")]
    if bad:
        lines = ["%s %s: %s" % (r.get("host"), r.get("status"), r.get("reason") or "no reason given") for r in bad]
        total = len(summary["results"])
        return "murderctl deploy: %d of %d hosts failed or unreachable (rc %d): %s" % (
            len(bad), total, rc, "; ".join(lines))
    # Errors not tied to one host: murderctl names them on stderr.
    tail = [l for l in stderr.strip().splitlines() if not l.startswith("[WARNING]: ")][-5:]
    return "murderctl deploy: %s (rc %d): %s" % (
        RC_MEANING.get(rc, "unexpected exit"), rc, " | ".join(tail) or "no message")


def check_mode(module, binary, p):
    """Resolve targets and hash src; contact no host."""
    argv = [binary, "inventory", "--list"] + target_args(p)
    rc, out, err = module.run_command(argv)
    warnings_from(module, err)
    if rc != 0:
        module.fail_json(msg=failure_message(rc, {}, err), rc=rc, cmd=argv, stderr=err)
    try:
        listing = json.loads(out)
    except ValueError as e:
        module.fail_json(msg="murderctl inventory --list printed no JSON: %s" % e, rc=rc, cmd=argv, stdout=out, stderr=err)
    # Every host is in some group's "hosts" (at least "ungrouped"); hostvars
    # lists those with variables. Take the union.
    seen = set((listing.get("_meta") or {}).get("hostvars", {}).keys())
    for name, group in listing.items():
        if name != "_meta" and isinstance(group, dict):
            seen.update(group.get("hosts") or [])
    targets = sorted(seen)
    module.exit_json(
        changed=False, skipped=True, targets=targets, cmd=argv, rc=rc,
        sha256=module.sha256(p["src"]), size=os.path.getsize(p["src"]),
        msg="check mode: would deploy %s to %d hosts (%s); hosts not contacted, so which would change is unknown"
        % (p["src"], len(targets), ", ".join(targets)))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path", required=True),
            dest=dict(type="str"),
            inventory=dict(type="list", elements="str"),
            limit=dict(type="str", default="all"),
            timeout=dict(type="str"),
            connect_timeout=dict(type="int"),
            forks=dict(type="int"),
            private_key=dict(type="path"),
            remote_user=dict(type="str"),
            murderctl_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params

    if not os.path.isfile(p["src"]):
        module.fail_json(msg="src %s: not a regular file (or missing)" % p["src"])
    if not os.access(p["src"], os.R_OK):
        module.fail_json(msg="src %s: not readable" % p["src"])
    if p["timeout"] and go_duration(p["timeout"]) is None:
        module.fail_json(msg="timeout %r: want seconds (600) or a duration (10m, 1h30m)" % p["timeout"])
    if p["forks"] is not None and p["forks"] < 1:
        module.fail_json(msg="forks %d: want 1 or more" % p["forks"])
    if p["connect_timeout"] is not None and p["connect_timeout"] < 1:
        module.fail_json(msg="connect_timeout %d: want 1 or more seconds" % p["connect_timeout"])

    if p["murderctl_path"]:
        binary = p["murderctl_path"]
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            module.fail_json(msg="murderctl_path %s: not an executable file" % binary)
    else:
        binary = module.get_bin_path("murderctl", required=True)

    if module.check_mode:
        check_mode(module, binary, p)

    argv = deploy_argv(binary, p)
    rc, out, err = module.run_command(argv)
    warnings_from(module, err)
    result = dict(changed=False, rc=rc, cmd=argv, stderr=err)
    report = None
    if out.strip():
        try:
            report = json.loads(out)
        except ValueError as e:
            result["stdout"] = out
            module.fail_json(msg="murderctl deploy printed no JSON report (rc %d): %s" % (rc, e), **result)
    if report is not None:
        result.update(summarize(report))
        result["changed"] = bool(result["changed_hosts"])
    if rc != 0:
        module.fail_json(msg=failure_message(rc, result, err), **result)
    if report is None:
        module.fail_json(msg="murderctl deploy exited 0 but printed no report", **result)
    module.exit_json(
        msg="deployed %s to %d hosts: %d changed, %d ok" % (
            p["src"], len(result["results"]), len(result["changed_hosts"]), len(result["ok_hosts"])),
        **result)


if __name__ == "__main__":
    main()
