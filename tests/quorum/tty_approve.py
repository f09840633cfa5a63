#!/usr/bin/env python3
"""Runs a command with a pseudo-terminal as its controlling terminal and plays the approver.

usage: tty_approve.py ANSWER PASSPHRASE -- COMMAND...

Waits for quorum's confirmation question on the terminal and types ANSWER; if it then asks for
the passphrase, waits until the terminal's echo is off and types PASSPHRASE. The command's
stdout and stderr pass through; what appeared on the terminal is written to stderr after a
line "--- terminal ---". Exits with the command's status, or 90 when the terminal misbehaved:
a prompt that never came, echo left on at the passphrase prompt, the passphrase echoed, the
echo not restored afterwards. Every wait has a 30 s ceiling; none is a fixed sleep.
"""
import fcntl
import os
import select
import subprocess
import sys
import termios
import time

CEILING_S = 30


def fail(message, seen):
    sys.stderr.write("tty_approve: %s\n--- terminal ---\n%s\n" % (message, seen.decode(errors="replace")))
    sys.exit(90)


def main():
    answer, passphrase, sep = sys.argv[1], sys.argv[2], sys.argv[3]
    assert sep == "--"
    command = sys.argv[4:]
    master, slave = os.openpty()

    def become_session_leader():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, preexec_fn=become_session_leader, pass_fds=(slave,))
    seen = b""

    def read_until(marker):
        nonlocal seen
        deadline = time.monotonic() + CEILING_S
        while marker not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or child.poll() is not None and not select.select([master], [], [], 0)[0]:
                return False
            ready, _, _ = select.select([master], [], [], min(left, 0.5))
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    return False
        return True

    if not read_until(b"Type yes to go on: "):
        os.close(slave)
        child.wait(CEILING_S)
        fail("no confirmation question", seen)
    os.write(master, answer.encode() + b"\n")
    if answer == "yes":
        if not read_until(b"passphrase: "):
            fail("no passphrase prompt", seen)
        deadline = time.monotonic() + CEILING_S
        while termios.tcgetattr(slave)[3] & termios.ECHO:
            if time.monotonic() > deadline:
                fail("echo still on at the passphrase prompt", seen)
            select.select([], [], [], 0.01)
        os.write(master, passphrase.encode() + b"\n")
    code = child.wait(CEILING_S * 4)
    # What is left on the terminal, without blocking: the child has exited.
    while select.select([master], [], [], 0)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    if termios.tcgetattr(slave)[3] & termios.ECHO == 0:
        fail("echo not restored", seen)
    os.close(slave)
    if passphrase.encode() in seen:
        fail("the passphrase was echoed", seen)
    sys.stderr.write("--- terminal ---\n%s\n" % seen.decode(errors="replace"))
    sys.exit(code)


main()
