"""Shared helpers of the interop tests: where nugget-cli and the shared material are, and
a way to run the CLI that reports its output when it fails."""
import os
import subprocess
import tempfile
import unittest

CLI = os.environ.get("NUGGET_CLI", "")
SHARED = os.environ.get("NUGGET_SHARED_DIR", "")


def run_cli(*args, check=True):
    """Runs nugget-cli with ARGS; returns the CompletedProcess (text mode)."""
    proc = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"nugget-cli {' '.join(map(str, args))} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


class InteropCase(unittest.TestCase):
    """A test case with a private temporary folder (self.tmp) removed afterwards."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="nugget-interop-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()


def main():
    if not CLI or not os.access(CLI, os.X_OK):
        raise SystemExit(f"NUGGET_CLI does not name an executable nugget-cli: {CLI!r}")
    unittest.main(verbosity=2)
