"""Over-long values from configuration or the command line: a clear error, never a cut value.

Each case used to build a path or text in a fixed array and go on with a cut copy (issue 11,
"no silent truncation"). Now the command refuses with a message that names the parameter, or the
value is used whole.
"""
import subprocess

LONG_QUEUE_DIR = "/" + "q" * 4000  # more than QUEUE_DIR_MAX (3840), less than PATH_MAX


def test_commands_refuse_an_over_long_queue_directory(instance):
    instance.write_main_cf({"queue_directory": LONG_QUEUE_DIR})
    for name, args, status in (("postqueue", ["-p"], 78), ("postsuper", ["-s"], 1),
                               ("postdrop", [], 78), ("sendmail", ["-t"], 78)):
        p = instance.cmd(name, *args, input="To: a@example.com\n\nhi\n")
        assert p.returncode == status, (name, p.returncode, p.stderr[-300:])
        assert "parameter queue_directory: longer than 3840 bytes" in p.stderr, (name, p.stderr)


def test_postfix_status_reads_long_main_cf_lines_whole(instance):
    """The lenient main.cf reader of stop/status split lines at 4 KB: the tail of a long
    value became a line of its own, here one that moves queue_directory elsewhere."""
    instance.start()
    try:
        tail = "queue_directory = /nonexistent"
        value = "x" * (4095 - len("smtpd_banner = ")) + tail
        text = (instance.etc / "main.cf").read_text()
        (instance.etc / "main.cf").write_text(text + f"smtpd_banner = {value}\nbad line\n")
        p = instance.cmd("postfix", "status")
        assert p.returncode == 0, p.stderr
        assert "the Postern mail system is running" in p.stderr
    finally:
        (instance.etc / "main.cf").write_text(text)
        assert instance.stop().returncode == 0


def test_postern_passwd_refuses_a_password_crypt_would_not_take(instance):
    for how in ("stdin", "argv"):
        pw = "p" * 600
        args = [str(instance.bin), "postern-passwd"] + ([pw] if how == "argv" else [])
        p = subprocess.run(args, input=pw + "\n", capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and p.stdout == "", (how, p.stdout)
        assert "password is longer than 511 bytes" in p.stderr, (how, p.stderr)
    p = subprocess.run([str(instance.bin), "postern-passwd"], input="p" * 2000 + "\n",
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "password on standard input is longer than 1023 bytes" in p.stderr, p.stderr
