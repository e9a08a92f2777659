"""postmap and newaliases: build LMDB tables from text sources and query them."""
import os
import stat


def write(path, text):
    path.write_text(text)
    return path


def test_postmap_builds_and_queries(instance):
    src = write(instance.etc / "virtual",
                "# virtual aliases\n"
                "Info@Example.TEST    info-user\n"
                "sales@example.test   a@example.test,\n"
                "    b@example.test\n"
                "\n"
                "dup@example.test     first\n"
                "dup@example.test     second\n")
    p = instance.cmd("postmap", f"hash:{src}")
    assert p.returncode == 0, p.stderr
    assert "duplicate entry" in p.stderr
    db = instance.etc / "virtual.lmdb"
    assert db.is_file()
    # No temporary file is left behind.
    assert [f.name for f in instance.etc.iterdir() if f.name.startswith("virtual.lmdb.")] == []

    # Case-insensitive key lookup; value printed as is.
    q = instance.cmd("postmap", "-q", "INFO@example.test", f"hash:{src}")
    assert q.returncode == 0, q.stderr
    assert q.stdout == "info-user\n"
    q = instance.cmd("postmap", "-q", "sales@EXAMPLE.test", f"hash:{src}")
    assert q.stdout.startswith("a@example.test,") and "b@example.test" in q.stdout
    assert instance.cmd("postmap", "-q", "dup@example.test", f"hash:{src}").stdout == "first\n"

    # A miss exits 1 and prints nothing.
    q = instance.cmd("postmap", "-q", "nobody@example.test", f"hash:{src}")
    assert q.returncode == 1
    assert q.stdout == ""

    # Without a type, default_database_type (hash) applies.
    assert instance.cmd("postmap", "-q", "info@example.test", str(src)).returncode == 0


def test_postmap_rebuild_replaces_table(instance):
    src = write(instance.etc / "access", "1.2.3.4 REJECT\n")
    instance.cmd("postmap", f"hash:{src}", check=True)
    write(src, "5.6.7.8 OK\n")
    instance.cmd("postmap", f"hash:{src}", check=True)
    assert instance.cmd("postmap", "-q", "1.2.3.4", f"hash:{src}").returncode == 1
    assert instance.cmd("postmap", "-q", "5.6.7.8", f"hash:{src}").stdout == "OK\n"


def test_postmap_dump_stdin_queries_delete_incremental(instance):
    src = write(instance.etc / "t", "b 2\na 1\nC 3\n")
    instance.cmd("postmap", f"lmdb:{src}", check=True)
    s = instance.cmd("postmap", "-s", f"lmdb:{src}", check=True)
    assert sorted(s.stdout.splitlines()) == ["a\t1", "b\t2", "c\t3"]

    q = instance.cmd("postmap", "-q", "-", f"lmdb:{src}", input="a\nzzz\nC\n")
    assert q.returncode == 0
    assert q.stdout == "a\t1\nC\t3\n"
    assert instance.cmd("postmap", "-q", "-", f"lmdb:{src}", input="x\n").returncode == 1

    d = instance.cmd("postmap", "-d", "B", f"lmdb:{src}")
    assert d.returncode == 0, d.stderr
    assert instance.cmd("postmap", "-q", "b", f"lmdb:{src}").returncode == 1
    assert instance.cmd("postmap", "-d", "b", f"lmdb:{src}").returncode == 1

    i = instance.cmd("postmap", "-i", f"lmdb:{src}", input="New 9\n")
    assert i.returncode == 0, i.stderr
    assert instance.cmd("postmap", "-q", "new", f"lmdb:{src}").stdout == "9\n"
    assert instance.cmd("postmap", "-q", "a", f"lmdb:{src}").stdout == "1\n"


def test_postmap_fold_and_permissions(instance):
    src = write(instance.etc / "f", "MixedCase value\n")
    os.chmod(src, 0o640)
    instance.cmd("postmap", "-f", f"hash:{src}", check=True)
    dump = instance.cmd("postmap", "-s", f"hash:{src}", check=True).stdout
    assert dump == "MixedCase\tvalue\n"
    mode = stat.S_IMODE((instance.etc / "f.lmdb").stat().st_mode)
    assert mode == 0o640


def test_postmap_query_other_table_types(instance):
    pcre = write(instance.etc / "checks.pcre", "/^(\\w+)@example\\.test$/ local-$1\n")
    q = instance.cmd("postmap", "-q", "Joe@Example.test", f"pcre:{pcre}")
    assert q.returncode == 0 and q.stdout == "local-Joe\n"
    cidr = write(instance.etc / "nets.cidr", "192.0.2.0/24 DUNNO\n[2001:db8::]/32 OK\n")
    assert instance.cmd("postmap", "-q", "192.0.2.9", f"cidr:{cidr}").stdout == "DUNNO\n"
    assert instance.cmd("postmap", "-q", "2001:db8::1", f"cidr:{cidr}").stdout == "OK\n"
    assert instance.cmd("postmap", "-q", "198.51.100.1", f"cidr:{cidr}").returncode == 1
    q = instance.cmd("postmap", "-q", "K", "inline:{ k=v, { x = y z } }")
    assert q.stdout == "v\n"


def test_postmap_errors(instance):
    p = instance.cmd("postmap", f"hash:{instance.etc / 'missing'}")
    assert p.returncode != 0
    assert "missing" in p.stderr
    p = instance.cmd("postmap", "-q", "x", f"hash:{instance.etc / 'missing'}")
    assert p.returncode == 1
    assert "missing.lmdb" in p.stderr
    p = instance.cmd("postmap", "-q", "x", "bogus:/x")
    assert p.returncode != 0 and "unsupported dictionary type: bogus" in p.stderr
    p = instance.cmd("postmap")
    assert p.returncode == 64


def test_newaliases_builds_alias_database(instance):
    aliases = write(instance.etc / "aliases",
                    "# aliases(5)\n"
                    "postmaster: root\n"
                    "Staff: alice,\n"
                    "\tbob@example.test\n"
                    "\"john doe\": john\n"
                    "broken line without colon\n")
    instance.write_main_cf({"alias_database": f"hash:{aliases}",
                            "alias_maps": f"hash:{aliases}"})
    p = instance.cmd("newaliases")
    assert p.returncode == 0, p.stderr
    assert "line 6" in p.stderr  # the malformed entry is reported and skipped
    assert (instance.etc / "aliases.lmdb").is_file()
    q = instance.cmd("postmap", "-q", "POSTMASTER", f"hash:{aliases}")
    assert q.returncode == 0 and q.stdout == "root\n"
    q = instance.cmd("postmap", "-q", "staff", f"hash:{aliases}")
    assert q.stdout.startswith("alice,") and "bob@example.test" in q.stdout
    assert instance.cmd("postmap", "-q", "John Doe", f"hash:{aliases}").stdout == "john\n"
    assert instance.cmd("postmap", "-q", "broken", f"hash:{aliases}").returncode == 1


def test_newaliases_missing_source_fails(instance):
    instance.write_main_cf({"alias_database": f"hash:{instance.etc / 'nonexistent'}"})
    p = instance.cmd("newaliases")
    assert p.returncode == 1
    assert "nonexistent" in p.stderr
