"""The short form of the fault-injection suite (tests/torture/torture.py --short) inside make
check: kill -9 of smtpd and of everything, a reload loop and EIO from fsync/write/rename, each
under load (the rows marked for --short in torture.py's FAULTS). Every message
acknowledged with 250 (or by sendmail) must be delivered; the table is printed on failure."""
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_torture_short_form_loses_nothing():
    env = dict(os.environ)
    p = subprocess.run([sys.executable, str(ROOT / "tests/torture/torture.py"), "--short"],
                       capture_output=True, text=True, env=env, timeout=900)
    print(p.stdout)
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert "| fault | acknowledged | delivered | lost | duplicated | recovery |" in p.stdout
