#!/usr/bin/python3
"""Stand-ins for mailroom-notify's peers, on loopback, for it_notify.

An SMTP relay (aiosmtpd) that requires STARTTLS, a second one that offers
no TLS at all (for require_tls), and Tencent Cloud SMS's
SendSms endpoint (API 2021-01-11) that checks the TC3-HMAC-SHA256
signature as the provider does. Both write what they receive as JSON
lines under DIR (mail.jsonl, sms.jsonl), decoded, for the C test to read.

SMS faults, by the last digits of the number:
  ...0500  HTTP 500 on the first two requests, then sent
  ...0404  a final refusal (InvalidParameterValue.IncorrectPhoneNumber)
  ...0408  no answer for 30 s on the first request (a timeout), then sent
Mail faults, by the recipient's local part:
  bounce@  550 on RCPT TO: a final refusal

usage: standin.py DIR SECRET_ID SECRET_KEY
(writes DIR/ports when ready: the TLS relay's, the SMS endpoint's and the
plain relay's port)
"""
import asyncio, datetime, email, email.policy, hashlib, hmac, http.server, json, os
import socket, ssl, subprocess, sys, threading, time

from aiosmtpd.controller import Controller

DIR, SECRET_ID, SECRET_KEY = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()
seen = {}


def append(name, obj):
    with lock, open(os.path.join(DIR, name), "a", encoding="utf-8") as f:
        f.write(json.dumps(obj, ensure_ascii=False) + "\n")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Relay:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        append("mail.jsonl", {
            "tls": session.ssl is not None,
            "mail_from": envelope.mail_from,
            "rcpt": envelope.rcpt_tos,
            "subject": str(msg["Subject"]),
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "message_id": str(msg["Message-ID"]),
            "content_type": msg.get_content_type(),
            "charset": body.get_content_charset(),
            "body": body.get_content(),
        })
        return "250 Message accepted"


def tc3(host, ts, body):
    date = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d")
    creq = "\n".join(["POST", "/", "",
                      "content-type:application/json; charset=utf-8\nhost:%s\nx-tc-action:sendsms\n" % host,
                      "content-type;host;x-tc-action", hashlib.sha256(body).hexdigest()])
    scope = date + "/sms/tc3_request"
    sts = "\n".join(["TC3-HMAC-SHA256", str(ts), scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = hmac.new(("TC3" + SECRET_KEY).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, b"sms", hashlib.sha256).digest()
    k = hmac.new(k, b"tc3_request", hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return ("TC3-HMAC-SHA256 Credential=%s/%s, SignedHeaders=content-type;host;x-tc-action, "
            "Signature=%s" % (SECRET_ID, scope, sig))


class Sms(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ts = int(self.headers.get("X-TC-Timestamp", "0"))
        ok_sig = (self.headers.get("Authorization") == tc3(self.headers.get("Host"), ts, body)
                  and abs(time.time() - ts) < 300
                  and self.headers.get("X-TC-Action") == "SendSms"
                  and self.headers.get("X-TC-Version") == "2021-01-11"
                  and self.headers.get("Content-Type") == "application/json; charset=utf-8")
        req = json.loads(body)
        phone = req["PhoneNumberSet"][0]
        with lock:
            n = seen[phone] = seen.get(phone, 0) + 1
        rec = {"signature_ok": ok_sig, "try": n, "request": req}
        if not ok_sig:
            append("sms.jsonl", dict(rec, outcome="bad_signature"))
            return self.answer(200, {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure",
                                                            "Message": "signature"}, "RequestId": "x"}})
        if phone.endswith("0500") and n <= 2:
            append("sms.jsonl", dict(rec, outcome="http_500"))
            return self.answer(500, {"Response": {"Error": {"Code": "InternalError"}}})
        if phone.endswith("0408") and n == 1:
            append("sms.jsonl", dict(rec, outcome="timeout"))
            time.sleep(30)
            return
        if phone.endswith("0404"):
            append("sms.jsonl", dict(rec, outcome="refused"))
            return self.answer(200, {"Response": {"SendStatusSet": [{
                "SerialNo": "", "PhoneNumber": phone, "Fee": 0, "SessionContext": req.get("SessionContext", ""),
                "Code": "InvalidParameterValue.IncorrectPhoneNumber", "Message": "bad number",
                "IsoCode": "CN"}], "RequestId": "r-%d" % n}})
        append("sms.jsonl", dict(rec, outcome="sent"))
        self.answer(200, {"Response": {"SendStatusSet": [{
            "SerialNo": "s-%d" % n, "PhoneNumber": phone, "Fee": 1,
            "SessionContext": req.get("SessionContext", ""), "Code": "Ok",
            "Message": "send success", "IsoCode": "CN"}], "RequestId": "r-%d" % n}})


def main():
    cert, key = os.path.join(DIR, "relay.crt"), os.path.join(DIR, "relay.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    smtp_port = free_port()
    relay = Controller(Relay(), hostname="127.0.0.1", port=smtp_port, tls_context=ctx,
                       require_starttls=True)
    relay.start()
    plain_port = free_port()
    plain = Controller(Relay(), hostname="127.0.0.1", port=plain_port)
    plain.start()
    sms = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sms)
    threading.Thread(target=sms.serve_forever, daemon=True).start()
    tmp = os.path.join(DIR, "ports.tmp")
    with open(tmp, "w") as f:
        f.write("%d %d %d\n" % (smtp_port, sms.server_address[1], plain_port))
    os.rename(tmp, os.path.join(DIR, "ports"))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
