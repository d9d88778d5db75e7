#!/usr/bin/env python3
"""The receipt button's cost beside the status page it sits on.

    tests/bench/receipt-pages.py BUILD_DIR [ROUNDS]

Starts its own router and gateway (deploy/mailroom.ini, port 0, no
limits) in a temporary directory, sends one letter through the mailbox
form, then alternates, ROUNDS times (default 300): a /track lookup (the
status page, the baseline) and the receipt download from that page's
button (a status read under the sealed key hash, answered as a text
file). Prints each one's median and p90 latency in ms, their ratio, and
the sizes of the status page and of the receipt.
"""
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
build = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(src, 'build')
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 300


def start(d):
    conf = open(os.path.join(src, 'deploy', 'mailroom.ini'), encoding='utf-8').read()
    conf = re.sub(r'^port = 8080$', 'port = 0', conf, flags=re.M)
    conf = re.sub(r'^calendars = .*$', 'calendars = ' + os.path.join(src, 'deploy', 'calendars'),
                  conf, flags=re.M)
    conf += '\n[gateway]\nsubmit_per_minute = 0\nlookup_per_minute = 0\naccess_log = no\n'
    conf += '\n[console]\nlisten_addr =\n'
    ini = os.path.join(d, 'mailroom.ini')
    open(ini, 'w', encoding='utf-8').write(conf)
    procs = []
    for prog, want in (('router/mailroom-router', b'listening on'),
                       ('gateway/mailroom-gateway', b'listening on http://')):
        p = subprocess.Popen([os.path.join(build, prog), '-c', ini], cwd=d,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(p)
        while True:
            line = p.stderr.readline()
            if not line:
                raise SystemExit(f'{prog} did not start')
            if want in line:
                break
    port = int(re.search(rb'http://[0-9.]+:(\d+)', line).group(1))
    for _ in range(100):   # until the gateway reaches the router
        c = http.client.HTTPConnection('127.0.0.1', port)
        c.request('GET', '/healthz')
        if c.getresponse().status == 200:
            return procs, port
        time.sleep(0.1)
    raise SystemExit('the gateway never reached the router')


class Browser:
    def __init__(self, port):
        self.c = http.client.HTTPConnection('127.0.0.1', port)
        self.cookie = ''

    def go(self, method, path, form=None):
        h = {'Cookie': self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            h['Content-Type'] = 'application/x-www-form-urlencoded'
        self.c.request(method, path, body=body, headers=h)
        r = self.c.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == 'set-cookie' and v.startswith('mr_csrf='):
                self.cookie = v.split(';')[0]
        return r.status, data.decode('utf-8')


def field(html, name, after=''):
    html = html[html.index(after):] if after else html
    return re.search(f'name="{name}" value="([^"]*)"', html).group(1)


def main():
    d = tempfile.mkdtemp(prefix='mailroom-bench-receipt-')
    procs = []
    try:
        procs, port = start(d)
        b = Browser(port)
        _, page = b.go('GET', '/mailbox')
        st, page = b.go('POST', '/mailbox', {'token': field(page, 'token'), 'subject': '路灯',
                                              'body': '东门路灯坏了。', 'name': '', 'phone': '',
                                              'email': ''})
        assert st == 201, st
        code = re.search(r'id="tracking-code">([^<]*)<', page).group(1)
        shown = re.search(r'id="access-key">(.*?)</dd>', page).group(1)
        key = re.sub(r'<[^>]*>| ', '', shown)
        _, page = b.go('GET', '/track')
        lookup = {'token': field(page, 'token'), 'code': code, 'key': key}
        times = {'status page': [], 'receipt': []}
        sizes = {}
        for _ in range(rounds):
            t = time.perf_counter()
            st, page = b.go('POST', '/track', lookup)
            times['status page'].append((time.perf_counter() - t) * 1000)
            assert st == 200, st
            sizes['status page'] = len(page.encode())
            post = {'token': field(page, 'token', 'id="receipt"'), 'code': code,
                    'seal': field(page, 'seal', 'id="receipt"'), 'receipt': '1'}
            t = time.perf_counter()
            st, text = b.go('POST', '/track', post)
            times['receipt'].append((time.perf_counter() - t) * 1000)
            assert st == 200 and text.startswith('c2sp.org/tlog-proof@v1\n'), st
            sizes['receipt'] = len(text.encode())
        for name, v in times.items():
            v.sort()
            print(f'{name:12} median {statistics.median(v):.3f} ms  p90 {v[len(v) * 9 // 10]:.3f} ms'
                  f'  ({rounds} requests, {sizes[name]} bytes)')
        print(f'ratio receipt/status page (medians): '
              f'{statistics.median(times["receipt"]) / statistics.median(times["status page"]):.2f}')
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait()
        shutil.rmtree(d, ignore_errors=True)


main()
