"""What the client test scripts share: the failure they raise, checks, progress lines and a
bounded wait. Each script catches `Failure` in its main, prints `FAIL: ...` and exits 1."""

import sys
import time
import traceback


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


def run(what, body, on_failure=lambda: None, out=None):
    """Runs body(). A `Failure` or any other exception prints `FAIL: <what><reason>` (an
    unexpected one after its traceback), calls on_failure() first, and exits 1."""
    out = out or sys.stdout
    try:
        body()
    except Failure as e:
        on_failure()
        print(f"FAIL: {what}{e}", file=out, flush=True)
        sys.exit(1)
    except Exception as e:
        traceback.print_exc()
        on_failure()
        print(f"FAIL: {what}unexpected {type(e).__name__}: {e}", file=out, flush=True)
        sys.exit(1)
