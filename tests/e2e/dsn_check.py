"""dsn_check.py: checks that a message is an RFC 3464 delivery status notification.

As a module: check_dsn(data: bytes) parses the message with Python's `email` package and
returns a summary dict, or raises AssertionError naming what is wrong. As a script:
`python3 dsn_check.py FILE...` prints "ok FILE" per good file and exits 1 at the first bad one.

What is checked: a multipart/report with report-type=delivery-status whose first part is
text/plain, with exactly one message/delivery-status part holding a per-message block
(Reporting-MTA, Arrival-Date) and at least one per-recipient block (Final-Recipient, Action,
Status, Diagnostic-Code) with well-formed values; a returned message, when present, is
message/rfc822 or text/rfc822-headers.
"""
import email
import email.policy
import email.utils
import re
import sys

PER_MESSAGE_FIELDS = ("Reporting-MTA", "Arrival-Date")
PER_RECIPIENT_FIELDS = ("Final-Recipient", "Action", "Status", "Diagnostic-Code")
ACTIONS = {"failed", "delayed", "delivered", "relayed", "expanded"}
STATUS_RE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
TYPED_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*;\s*\S")  # "dns; host", "rfc822; addr"


def _fields(block):
    """A delivery-status block as {name: unfolded value}."""
    return {k: " ".join(str(v).split()) for k, v in block.items()}


def check_dsn(data):
    if isinstance(data, str):
        data = data.encode()
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report", \
        f"not multipart/report: {msg.get_content_type()}"
    assert msg.get_param("report-type") == "delivery-status", \
        f"report-type is {msg.get_param('report-type')!r}"
    assert msg.get_param("boundary"), "no MIME boundary"
    assert msg.is_multipart(), "multipart/report did not parse into parts"
    parts = msg.get_payload()
    assert len(parts) in (2, 3), f"{len(parts)} parts, want 2 or 3"
    assert parts[0].get_content_type() == "text/plain", \
        f"first part is {parts[0].get_content_type()}"
    statuses = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    assert len(statuses) == 1, f"{len(statuses)} message/delivery-status parts"
    blocks = statuses[0].get_payload()
    assert isinstance(blocks, list) and len(blocks) >= 2, \
        "delivery-status needs a per-message block and a per-recipient block"
    per_message = _fields(blocks[0])
    for name in PER_MESSAGE_FIELDS:
        assert per_message.get(name), f"per-message field {name} missing"
    assert TYPED_RE.match(per_message["Reporting-MTA"]), \
        f"bad Reporting-MTA: {per_message['Reporting-MTA']!r}"
    assert email.utils.parsedate_tz(per_message["Arrival-Date"]), \
        f"bad Arrival-Date: {per_message['Arrival-Date']!r}"
    recipients = []
    for block in blocks[1:]:
        rcpt = _fields(block)
        for name in PER_RECIPIENT_FIELDS:
            assert rcpt.get(name), f"per-recipient field {name} missing in {rcpt}"
        assert TYPED_RE.match(rcpt["Final-Recipient"]), \
            f"bad Final-Recipient: {rcpt['Final-Recipient']!r}"
        assert rcpt["Action"].lower() in ACTIONS, f"bad Action: {rcpt['Action']!r}"
        assert STATUS_RE.match(rcpt["Status"]), f"bad Status: {rcpt['Status']!r}"
        assert TYPED_RE.match(rcpt["Diagnostic-Code"]), \
            f"bad Diagnostic-Code: {rcpt['Diagnostic-Code']!r}"
        recipients.append(rcpt)
    returned = None
    if len(parts) == 3:
        returned = parts[2].get_content_type()
        assert returned in ("message/rfc822", "text/rfc822-headers"), \
            f"third part is {returned}"
    return {
        "headers": dict(msg.items()),
        "text": parts[0].get_payload(),
        "per_message": per_message,
        "recipients": recipients,
        "returned": returned,
        "returned_part": parts[2] if len(parts) == 3 else None,
    }


def main(argv):
    if len(argv) < 2:
        print("usage: dsn_check.py FILE...", file=sys.stderr)
        return 64
    for path in argv[1:]:
        with open(path, "rb") as f:
            data = f.read()
        try:
            check_dsn(data)
        except AssertionError as e:
            print(f"bad {path}: {e}")
            return 1
        print(f"ok {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
