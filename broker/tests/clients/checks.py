"""What the client test scripts share: the failure they raise, checks, progress lines and a
bounded wait. Each script catches `Failure` in its main, prints `FAIL: ...` and exits 1."""

import time


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def step(msg, tag=None):
    """A progress line, prefixed with `tag` or else the time of day."""
    print(f"[{tag or time.strftime('%H:%M:%S')}] {msg}", flush=True)


def wait_until(cond, timeout, what, describe=lambda: "", interval=0.05):
    """Polls cond() until it returns something true; returns (that value, seconds it took).
    Fails after `timeout` seconds, naming `what` and adding `describe()`."""
    start = time.monotonic()
    while True:
        got = cond()
        if got:
            return got, time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise Failure(f"not within {timeout:.0f}s: {what}. {describe()}".rstrip(". ") + ".")
        time.sleep(interval)
