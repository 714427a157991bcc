#!/usr/bin/env python3
"""The README's recipe for many machines ("Many files, many machines"), run
as the README gives it, with this machine (`:`) and two remote hosts.  The
remote hosts are this machine too, reached through `parallel --ssh` with a
stand-in for ssh that runs each job in a login directory of its own, as ssh
runs it in the remote home: a recipe whose output stays on the remote side
(a redirect inside the job's command) fails here as it would on real hosts.
The merged result must equal one run over the same files, and nothing may
be left in the remote homes."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish  # noqa: E402

SMTPREPLY = env.smtpreply()
SRCDIR = env.SRCDIR

FAKE_SSH = r'''#!/bin/bash
# ssh [options] HOST [--] COMMAND...: run COMMAND with bash in HOST's home.
while [ $# -gt 0 ]; do
  case "$1" in
    -[bcDEeFIiJLlmOopQRSWw]) shift 2 ;;
    -*) shift ;;
    *) host=$1; shift; break ;;
  esac
done
[ "$1" = "--" ] && shift
# sshd gives the remote command a login environment: SHELL and HOME are
# always set there.  GNU parallel's remote wrapper execs "$SHELL" and, when
# it is empty, loses the job's output yet exits 0, so a runner without SHELL
# (as CI is) must not leak that into the "remote" side.
export SHELL=/bin/bash HOME="$REMOTES/$host"
mkdir -p "$HOME" && cd "$HOME" && exec bash -c "$*"
'''

if not shutil.which("parallel"):
    check(False, "GNU parallel is not installed (apt-get install parallel)")
    finish()

readme = open(os.path.join(SRCDIR, "README.md"), encoding="utf-8").read()
section = readme.split("### Many files, many machines", 1)[1].split("\n### ", 1)[0]
blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
recipe = next((b for b in blocks if "parallel" in b and "smtpreply merge" in b), None)
check(recipe is not None, "the README has the recipe")
check(recipe and "-S host1,host2,:" in recipe, "the recipe names two hosts and this machine")
if not recipe:
    finish()

with tempfile.TemporaryDirectory() as tmp:
    archive = os.path.join(tmp, "archive")
    os.makedirs(archive)
    caps = sorted(f for f in glob.glob(os.path.join(SRCDIR, "captures", "*"))
                  if f.endswith((".pcap", ".pcapng")))
    for f in caps:
        shutil.copy(f, archive)
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    os.symlink(SMTPREPLY, os.path.join(bindir, "smtpreply"))
    ssh = os.path.join(bindir, "fake-ssh")
    with open(ssh, "w") as f:
        f.write(FAKE_SSH)
    os.chmod(ssh, 0o755)
    remotes = os.path.join(tmp, "remotes")
    os.makedirs(remotes)
    work = os.path.join(tmp, "work")
    os.makedirs(work)

    script = (recipe.replace("/archive", archive)
              .replace("-S host1,host2,:", f"--will-cite --ssh {ssh} -S 1/host1,1/host2,:"))
    run_env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"], REMOTES=remotes,
               LC_ALL="C")
    p = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=work, env=run_env,
                       capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, f"the recipe runs: {p.stderr[-2000:]}")
    ran_remote = sorted(os.listdir(remotes))
    check(ran_remote == ["host1", "host2"], f"jobs ran on both remote hosts ({ran_remote})")
    left = [os.path.join(d, f) for d, _, fs in os.walk(remotes) for f in fs]
    check(left == [], f"nothing left on the remote hosts ({left[:5]})")

    whole = subprocess.run([SMTPREPLY, "--json", "-q", *sorted(glob.glob(archive + "/*"))],
                           capture_output=True, text=True, env=run_env)
    check(whole.returncode == 0, f"the single run: {whole.stderr}")
    merged_path = os.path.join(work, "archive.json")
    try:
        merged = json.load(open(merged_path))
    except (OSError, ValueError) as e:
        merged = None
        print(e)
    check(merged is not None and merged == json.loads(whole.stdout),
          "the recipe's merged summary equals the single run")
    check(merged is not None and len(merged["files"]) == len(caps) > 3,
          f"every capture is in it ({len(caps)})")

finish()
