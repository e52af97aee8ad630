#!/usr/bin/env python3
"""The man pages under docs/man/ say what the programs' --help says.

For each program: the set of long options in its --help (for provctl, the
top-level help and every command's --help) equals the set of long options
in its man page, every provctl command has an entry in provctl(1), and
every page formats without a warning from man/groff. A new option added to
a help text and not to the page (or a page describing an option that is
gone) fails here, naming the option.

usage: check_manpages.py SOURCE_DIR BUILD_DIR
"""
import os
import re
import subprocess
import sys

SRC, BUILD = sys.argv[1], sys.argv[2]
PAGES = {  # program -> its page under docs/man/
    "provisiond": "provisiond.8",
    "provctl": "provctl.1",
    "southbound-sim": "southbound-sim.1",
    "kafka-mock": "kafka-mock.1",
}
LONG = re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")
failed = []


def fail(msg):
    failed.append(msg)
    print("check_manpages: FAILED:", msg, file=sys.stderr)


def run(*argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        fail(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout + p.stderr


def roff_text(path):
    """The page's words with roff escapes for '-' and fonts removed."""
    text = open(path, encoding="utf-8").read()
    text = "\n".join(l for l in text.splitlines() if not l.startswith('.\\"'))
    text = text.replace("\\-", "-")
    return re.sub(r"\\f[BIRP]", "", text)


def provctl_commands(top_help):
    """First words of the 'commands:' block of provctl --help."""
    block = top_help.split("commands:", 1)[1].split("\n\n", 1)[0]
    cmds = []
    for line in block.splitlines():
        m = re.match(r"^  ([a-z]+)\b", line)
        if m and m.group(1) not in cmds:
            cmds.append(m.group(1))
    return cmds


for prog, page in PAGES.items():
    exe = os.path.join(BUILD, prog)
    path = os.path.join(SRC, "docs", "man", page)
    help_text = run(exe, "--help")
    man = roff_text(path)
    if prog == "provctl":
        cmds = provctl_commands(help_text)
        if len(cmds) < 8:
            fail(f"provctl --help lists only {cmds}: the commands block moved?")
        for c in cmds:
            help_text += run(exe, c, "--help")
            if not re.search(rf"^\.(B|BR|BI) {c}\b", man, re.M):
                fail(f"{page}: no entry for the command '{c}'")
    in_help, in_man = set(LONG.findall(help_text)), set(LONG.findall(man))
    for o in sorted(in_help - in_man):
        fail(f"{page} does not describe --{o}, which `{prog} --help` shows")
    for o in sorted(in_man - in_help):
        fail(f"{page} describes --{o}, which `{prog} --help` does not show")
    if len(in_help) < 3:
        fail(f"`{prog} --help` shows {len(in_help)} options: parsing broke?")
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
    p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8",
                        "-Z", path], capture_output=True, text=True, env=env,
                       timeout=30)
    if p.returncode != 0 or p.stderr.strip():
        fail(f"{page}: man --warnings: {p.stderr.strip()}")
    print(f"check_manpages: ok: {page} ({len(in_help)} options)")

sys.exit(1 if failed else 0)
