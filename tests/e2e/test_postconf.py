"""End-to-end tests for postconf: showing parameters (-d, -n, -h, -x, -H, -f, -o, names) and
editing main.cf in place (-e, name=value, -#, -X), against Postfix's output formats.

They only run the binary; no server is started.
"""
import os
import stat
import subprocess

from conftest import postern_bin


def postconf(*args, env=None, config_dir=None):
    """Runs `postern postconf [-c DIR] args...`; MAIL_CONFIG is cleared unless env sets it."""
    e = dict(os.environ)
    e.pop("MAIL_CONFIG", None)
    if env:
        e.update(env)
    cmd = [str(postern_bin()), "postconf"]
    if config_dir is not None:
        cmd += ["-c", str(config_dir)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=e, timeout=60)


def make_config(tmp_path, main_cf, master_cf="smtp inet n - n - - smtpd\n"):
    d = tmp_path / "etc"
    d.mkdir(exist_ok=True)
    (d / "main.cf").write_text(main_cf)
    if master_cf is not None:
        (d / "master.cf").write_text(master_cf)
    return d


def lines(text):
    return text.splitlines()


def names_of(output):
    return [line.split(" = ", 1)[0].rstrip(" =") for line in lines(output)]


# ---------------------------------------------------------------- showing

def test_defaults_have_postfix_values_and_are_sorted(tmp_path):
    p = postconf("-d", config_dir=tmp_path)  # -d needs no main.cf at all
    assert p.returncode == 0, p.stderr
    out = lines(p.stdout)
    for want in ("queue_run_delay = 300s", "maximal_backoff_time = 4000s",
                 "minimal_backoff_time = 300s", "maximal_queue_lifetime = 5d",
                 "smtpd_banner = $myhostname ESMTP $mail_name", "mail_name = Postern",
                 "mydestination = $myhostname, localhost.$mydomain, localhost",
                 "relayhost =", f"config_directory = {tmp_path}"):
        assert want in out
    names = names_of(p.stdout)
    assert names == sorted(names)
    assert len(names) == len(set(names)) > 100
    assert p.stderr == ""


def test_defaults_expanded_and_value_only(tmp_path):
    p = postconf("-dhx", "smtpd_banner", "myhostname", config_dir=tmp_path)
    assert p.returncode == 0, p.stderr
    banner, host = lines(p.stdout)
    assert banner == f"{host} ESMTP Postern"
    assert "." in host and "$" not in banner
    p = postconf("-dh", "queue_run_delay", "relayhost", config_dir=tmp_path)
    assert p.stdout == "300s\n\n"


def test_all_parameters_use_main_cf_values(instance):
    p = instance.cmd("postconf")
    assert p.returncode == 0, p.stderr
    out = lines(p.stdout)
    assert "myhostname = mx.example.test" in out
    assert "queue_run_delay = 5s" in out
    assert "mydestination = $myhostname, localhost" in out  # unexpanded
    assert "message_size_limit = 10240000" in out  # default
    assert names_of(p.stdout) == sorted(names_of(p.stdout))
    assert p.stderr == ""


def test_n_shows_exactly_main_cf_sorted(instance):
    p = instance.cmd("postconf", "-n")
    assert p.returncode == 0, p.stderr
    want = [f"{k} = {v}" for k, v in sorted(instance.main_cf.items())]
    assert lines(p.stdout) == want
    assert p.stderr == ""


def test_nx_expands_and_h_hides_names(instance):
    p = instance.cmd("postconf", "-nx", "mydestination", "relayhost")  # relayhost: not set
    assert p.stdout == "mydestination = mx.example.test, localhost\n"
    # Named parameters come out in the order of the arguments.
    p = instance.cmd("postconf", "-nx", "queue_run_delay", "mydestination")
    assert lines(p.stdout) == ["queue_run_delay = 5s",
                               "mydestination = mx.example.test, localhost"]
    p = instance.cmd("postconf", "-hx", "mydestination", "smtpd_banner")
    assert p.stdout == "mx.example.test, localhost\nmx.example.test ESMTP Postern\n"
    p = instance.cmd("postconf", "-h", "smtpd_banner")
    assert p.stdout == "$myhostname ESMTP $mail_name\n"
    p = instance.cmd("postconf", "-n", "message_size_limit")  # default: not shown with -n
    assert p.returncode == 0 and p.stdout == ""


def test_named_parameters_and_unknown_name(instance):
    p = instance.cmd("postconf", "myhostname", "no_such_parameter", "queue_run_delay")
    assert p.returncode == 0
    assert p.stdout == "myhostname = mx.example.test\nqueue_run_delay = 5s\n"
    assert p.stderr == "postconf: warning: no_such_parameter: unknown parameter\n"


def test_H_shows_names_only(instance):
    p = instance.cmd("postconf", "-nH")
    assert lines(p.stdout) == sorted(instance.main_cf)


def test_empty_value_and_whitespace_normalised(tmp_path):
    d = make_config(tmp_path, "relayhost =\nsmtpd_banner = $myhostname   ESMTP\t x\n"
                              "mynetworks = 127.0.0.0/8,\n    10.0.0.0/8\n")
    p = postconf("-n", config_dir=d)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ("mynetworks = 127.0.0.0/8, 10.0.0.0/8\n"
                        "relayhost =\n"
                        "smtpd_banner = $myhostname ESMTP x\n")
    p = postconf("-h", "relayhost", config_dir=d)
    assert p.stdout == "\n"


def test_unused_parameter_warning_and_user_parameters(tmp_path):
    d = make_config(tmp_path,
                    "foo = bar\n"
                    "my_helper = helper.example\n"
                    "myhostname = $my_helper\n"
                    "from_master = yes\n"
                    "myclass = reject\n"
                    "smtpd_restriction_classes = myclass\n",
                    "smtp inet n - n - - smtpd\n"
                    "  -o smtpd_helo_required=$from_master\n")
    p = postconf("-n", config_dir=d)
    assert p.returncode == 0
    out = lines(p.stdout)
    # User-defined parameters (used as $name, or restriction classes) are shown ...
    assert "my_helper = helper.example" in out
    assert "from_master = yes" in out
    assert "myclass = reject" in out
    # ... parameters nobody uses are not, and get one warning after the output.
    assert not any(line.startswith("foo") for line in out)
    assert p.stderr == f"postconf: warning: {d}/main.cf: unused parameter: foo=bar\n"
    assert names_of(p.stdout) == sorted(names_of(p.stdout))
    # The full listing includes user-defined parameters too, in order.
    p = postconf(config_dir=d)
    assert "my_helper = helper.example" in lines(p.stdout)
    assert names_of(p.stdout) == sorted(names_of(p.stdout))
    assert postconf("-q", "-n", config_dir=d).stderr == ""
    assert postconf("-hx", "myhostname", config_dir=d).stdout == "helper.example\n"
    # An unused name is unknown when asked for by name, as in Postfix.
    p = postconf("foo", config_dir=d)
    assert p.stdout == "" and "foo: unknown parameter" in p.stderr


def test_fold_long_lines(tmp_path):
    p = postconf("-df", "import_environment", config_dir=tmp_path)
    out = lines(p.stdout)
    assert len(out) == 2
    assert len(out[0]) < 80 and out[1].startswith("    ") and not out[1].startswith("     ")
    flat = postconf("-d", "import_environment", config_dir=tmp_path).stdout
    assert " ".join(w.strip() for w in out) == flat.strip()


def test_override_with_o(instance):
    p = instance.cmd("postconf", "-o", "myhostname=other.example", "-x", "smtpd_banner")
    assert p.stdout == "smtpd_banner = other.example ESMTP Postern\n"
    assert "myhostname = mx.example.test" in (instance.etc / "main.cf").read_text()


def test_mail_config_environment(instance):
    p = postconf("-h", "myhostname", env={"MAIL_CONFIG": str(instance.etc)})
    assert p.returncode == 0, p.stderr
    assert p.stdout == "mx.example.test\n"


def test_param_class_user(tmp_path):
    d = make_config(tmp_path, "a_user_param = 1\nmyhostname = $a_user_param.example\n")
    p = postconf("-C", "user", config_dir=d)
    assert p.stdout == "a_user_param = 1\n"
    p = postconf("-C", "builtin", config_dir=d)
    assert "myhostname = $a_user_param.example" in lines(p.stdout)
    assert not [line for line in lines(p.stdout) if line.startswith("a_user_param")]


# ---------------------------------------------------------------- errors

def test_bad_option_is_usage_error(tmp_path):
    p = postconf("-z", config_dir=tmp_path)
    assert p.returncode == 64
    assert "usage: postconf" in p.stderr
    assert p.stdout == ""


def test_conflicting_options(tmp_path):
    p = postconf("-d", "-n", config_dir=tmp_path)
    assert p.returncode == 1
    assert p.stderr == "postconf: fatal: specify one of -d -n\n"
    p = postconf("-x", "-e", "a=b", config_dir=tmp_path)
    assert p.returncode == 1 and "specify one of -e -x" in p.stderr


def test_syntax_error_names_file_and_line(tmp_path):
    d = make_config(tmp_path, "# comment\nmyhostname = a.example\noops\n")
    p = postconf("-n", config_dir=d)
    assert p.returncode == 1
    assert p.stdout == ""
    assert p.stderr == (f"postconf: fatal: {d}/main.cf, line 3: "
                        "missing '=' after attribute name: \"oops\"\n")


def test_missing_main_cf(tmp_path):
    p = postconf(config_dir=tmp_path)
    assert p.returncode == 1
    assert p.stderr == f"postconf: fatal: open {tmp_path}/main.cf: No such file or directory\n"
    assert postconf("-d", "mail_name", config_dir=tmp_path).stdout == "mail_name = Postern\n"
    p = postconf("-e", "a=b", config_dir=tmp_path)
    assert p.returncode == 1
    assert f"open {tmp_path}/main.cf for reading" in p.stderr
    assert not (tmp_path / "main.cf.tmp").exists()


def test_edit_argument_errors(instance):
    before = (instance.etc / "main.cf").read_text()
    for args, msg in ((["-e"], "-e requires name=value argument"),
                      (["-e", "novalue"], "missing '=' after attribute name"),
                      (["-X", "a=b"], "specify one of -e -X"),
                      (["-X", "a", "b=c"], "-X or -# requires parameter names without value"),
                      (["-e", "#a=b"], "accepts no comment input")):
        p = instance.cmd("postconf", *args)
        assert p.returncode == 1, args
        assert msg in p.stderr, (args, p.stderr)
    assert (instance.etc / "main.cf").read_text() == before


# ---------------------------------------------------------------- editing

ORIGINAL = ("# Postern main.cf\n"
            "#   with   odd   spacing kept\n"
            "\n"
            "myhostname = old.example\n"
            "mydestination = $myhostname,\n"
            "    localhost,\n"
            "  # a comment between continuation lines\n"
            "\tlocalhost.localdomain\n"
            "relayhost = [smart.example]:587\n"
            "# trailing comment\n")


def test_edit_replaces_in_place_keeping_comments(tmp_path):
    d = make_config(tmp_path, ORIGINAL)
    os.chmod(d / "main.cf", 0o640)
    p = postconf("-e", "mydestination = a, b", "myhostname=new.example", "zz_new = 1",
                 "alpha=x", config_dir=d)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""
    assert (d / "main.cf").read_text() == (
        "# Postern main.cf\n"
        "#   with   odd   spacing kept\n"
        "\n"
        "myhostname = new.example\n"
        "mydestination = a, b\n"
        "  # a comment between continuation lines\n"
        "relayhost = [smart.example]:587\n"
        "# trailing comment\n"
        "alpha = x\n"
        "zz_new = 1\n")
    assert stat.S_IMODE(os.stat(d / "main.cf").st_mode) == 0o640
    assert sorted(os.listdir(d)) == ["main.cf", "master.cf"]
    p = postconf("-hx", "mydestination", config_dir=d)
    assert p.stdout == "a, b\n"


def test_plain_name_value_edits_and_value_forms(tmp_path):
    d = make_config(tmp_path, ORIGINAL)
    p = postconf("mydestination='x, y'", config_dir=d)  # shell-quoted inside: kept literally
    assert p.returncode == 0, p.stderr
    assert "mydestination = 'x, y'\n" in (d / "main.cf").read_text()
    p = postconf("mydestination= a,   b ", "relayhost=", config_dir=d)
    assert p.returncode == 0, p.stderr
    text = (d / "main.cf").read_text()
    assert "mydestination = a,   b\n" in text
    assert "relayhost = \n" in text
    assert postconf("relayhost", config_dir=d).stdout == "relayhost =\n"
    assert text.startswith("# Postern main.cf\n#   with   odd   spacing kept\n\n")
    assert text.endswith("# trailing comment\n")


def test_comment_out_and_remove(tmp_path):
    d = make_config(tmp_path, ORIGINAL)
    p = postconf("-#", "mydestination", "no_such_name", config_dir=d)
    assert p.returncode == 0, p.stderr
    assert (d / "main.cf").read_text() == (
        "# Postern main.cf\n"
        "#   with   odd   spacing kept\n"
        "\n"
        "myhostname = old.example\n"
        "#mydestination = $myhostname,\n"
        "#    localhost,\n"
        "  # a comment between continuation lines\n"
        "#\tlocalhost.localdomain\n"
        "relayhost = [smart.example]:587\n"
        "# trailing comment\n")
    assert postconf("-n", "mydestination", config_dir=d).stdout == ""
    p = postconf("-X", "relayhost", "myhostname", config_dir=d)
    assert p.returncode == 0, p.stderr
    text = (d / "main.cf").read_text()
    assert not [ln for ln in lines(text) if ln.startswith(("relayhost", "myhostname"))]
    assert text.endswith("#\tlocalhost.localdomain\n# trailing comment\n")


def test_edit_warns_about_broken_result_and_duplicates(tmp_path):
    d = make_config(tmp_path, "a_param = 1\nqueue_run_delay = 1s\nqueue_run_delay = 2s\n")
    p = postconf("-e", "queue_run_delay=soon", config_dir=d)
    assert p.returncode == 0
    assert f"{d}/main.cf: multiple entries for \"queue_run_delay\"" in p.stderr
    assert "bad time value for parameter queue_run_delay" in p.stderr
    assert (d / "main.cf").read_text() == (
        "a_param = 1\nqueue_run_delay = soon\nqueue_run_delay = soon\n")


def test_remove_repairs_a_main_cf_that_does_not_load(tmp_path):
    d = make_config(tmp_path, "myhostname = a.example\noops\n")
    assert postconf("-n", config_dir=d).returncode == 1
    p = postconf("-X", "oops", config_dir=d)
    assert p.returncode == 0, p.stderr
    p = postconf("-n", config_dir=d)
    assert p.returncode == 0 and p.stdout == "myhostname = a.example\n"


def test_concurrent_edits_are_all_kept(tmp_path):
    d = make_config(tmp_path, "# shared\n")
    e = dict(os.environ)
    e.pop("MAIL_CONFIG", None)
    procs = [subprocess.Popen([str(postern_bin()), "postconf", "-c", str(d), "-e",
                               f"user_param_{i} = {i}"], env=e, stderr=subprocess.PIPE)
             for i in range(12)]
    for p in procs:
        assert p.wait(timeout=60) == 0, p.stderr.read()
    text = (d / "main.cf").read_text()
    assert text.startswith("# shared\n")
    assert sorted(lines(text)[1:]) == sorted(f"user_param_{i} = {i}" for i in range(12))
    assert not (d / "main.cf.tmp").exists()
