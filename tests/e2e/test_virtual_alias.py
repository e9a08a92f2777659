"""virtual_alias_maps: cleanup rewrites recipients before the message is queued (the queue file
holds the final recipients, the original stays as orig_to), fan-out, catch-all @domain,
extensions; an unknown address of a virtual alias domain is refused at RCPT with 550."""
import re
import smtplib

import pytest

SENDER = "sender@example.com"
ALIASES = ("inline:{ a@alias.test=user@virtual.test, "
           "{b@alias.test=user@virtual.test other@virtual.test}, "
           "@catch.test=other@virtual.test, "
           "loop1@alias.test=loop2@alias.test, loop2@alias.test=loop1@alias.test }")


def body(tag):
    return f"Subject: {tag}\r\nMessage-ID: <{tag}@example.com>\r\n\r\n{tag} body\r\n"


def send(inst, rcpts, text):
    with smtplib.SMTP("127.0.0.1", inst.port, timeout=30) as s:
        s.ehlo("client.example.com")
        s.sendmail(SENDER, rcpts, text)


@pytest.fixture
def aliased(instance):
    instance.write_main_cf({"virtual_alias_domains": "alias.test",
                            "virtual_alias_maps": ALIASES,
                            "recipient_delimiter": "+"})
    instance.start()
    return instance


def delivered(inst, rel, tag):
    return [m for m in inst.maildir_messages(rel) if f"{tag} body".encode() in m]


def test_single_alias(aliased):
    send(aliased, ["a@alias.test"], body("single"))
    aliased.wait_for(lambda: delivered(aliased, "user", "single"), what="delivery to user")
    log = aliased.maillog()
    assert re.search(r"to=<user@virtual\.test>, orig_to=<a@alias\.test>, relay=virtual, "
                     r".*status=sent", log), log
    assert re.search(r"from=<sender@example\.com>, size=\d+, nrcpt=1 \(queue active\)", log)
    assert not delivered(aliased, "other", "single")


def test_fan_out_is_two_deliveries(aliased):
    send(aliased, ["b@alias.test"], body("fanout"))
    aliased.wait_for(lambda: delivered(aliased, "user", "fanout") and
                     delivered(aliased, "other", "fanout"), what="both deliveries")
    log = aliased.maillog()
    # the queue file already held the two final recipients
    assert re.search(r"nrcpt=2 \(queue active\)", log), log
    for rcpt in ("user", "other"):
        assert re.search(rf"to=<{rcpt}@virtual\.test>, orig_to=<b@alias\.test>, relay=virtual, "
                         r".*status=sent", log), log
    assert len(delivered(aliased, "user", "fanout")) == 1


def test_catch_all_domain(aliased):
    send(aliased, ["whoever@catch.test"], body("catchall"))
    aliased.wait_for(lambda: delivered(aliased, "other", "catchall"), what="catch-all delivery")
    assert re.search(r"to=<other@virtual\.test>, orig_to=<whoever@catch\.test>, relay=virtual",
                     aliased.maillog())


def test_extension_is_propagated(aliased):
    send(aliased, ["a+tag@alias.test"], body("extension"))
    aliased.wait_for(lambda: re.search(r"to=<user\+tag@virtual\.test>, "
                                       r"orig_to=<a\+tag@alias\.test>, relay=virtual, "
                                       r".*status=sent", aliased.maillog()),
                     what="delivery with the extension")


def test_unknown_alias_address_is_refused_at_rcpt(aliased):
    with smtplib.SMTP("127.0.0.1", aliased.port, timeout=30) as s:
        s.ehlo("client.example.com")
        s.mail(SENDER)
        code, text = s.rcpt("c@alias.test")
        assert code == 550, (code, text)
        assert b"User unknown in virtual alias table" in text
        code, _ = s.rcpt("a@alias.test")
        assert code == 250
    assert re.search(r"NOQUEUE: reject: RCPT from localhost\[127\.0\.0\.1\]: 550 5\.1\.1 "
                     r"<c@alias\.test>: Recipient address rejected: User unknown in virtual alias "
                     r"table;", aliased.maillog())


def test_sendmail_submission_is_expanded_too(aliased):
    aliased.cmd("sendmail", "-f", SENDER, "b@alias.test", input="Subject: s\n\npickup body\n",
                check=True)
    aliased.wait_for(lambda: [m for m in aliased.maildir_messages("other")
                              if b"pickup body" in m], what="delivery through pickup")
    assert re.search(r"to=<other@virtual\.test>, orig_to=<b@alias\.test>, relay=virtual",
                     aliased.maillog())


def test_alias_loop_is_refused_at_end_of_data(aliased):
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(aliased, ["loop1@alias.test"], body("loop"))
    assert e.value.smtp_code == 451
    assert b"4.6.0 Alias expansion error" in e.value.smtp_error
    log = aliased.maillog()
    assert re.search(r"warning: \w+: virtual_alias_maps loop for loop1@alias\.test .*-- message "
                     r"not accepted, try again later", log), log
    assert "reject: END-OF-MESSAGE" in log
    assert "(queue active)" not in log
