# SPDX-License-Identifier: MIT
"""No symbol outside the API leaks from libpytrace.so.

The dynamic symbol table must hold exactly the functions declared PYTRACE_API in the public
header, each bound to the version node of the release that introduced it, plus that node's own
symbol; every exported name starts with pytrace_, and the SONAME is libpytrace.so.<soversion>.
"""
import argparse
import os
import re
import subprocess
import sys

EXPECTED = {
    'pytrace_attach': 'PYTRACE_0.1',
    'pytrace_detach': 'PYTRACE_0.1',
    'pytrace_thread_attach': 'PYTRACE_0.1',
    'pytrace_version': 'PYTRACE_0.1',
    'pytrace_config_set': 'PYTRACE_0.2',
    'pytrace_logging_enable': 'PYTRACE_0.3',
    'pytrace_logging_disable': 'PYTRACE_0.3',
    'pytrace_span_begin': 'PYTRACE_0.3',
    'pytrace_span_end': 'PYTRACE_0.3',
    'pytrace_mark': 'PYTRACE_0.3',
    'pytrace_request_begin': 'PYTRACE_0.4',
    'pytrace_request_end': 'PYTRACE_0.4',
    'pytrace_request_id': 'PYTRACE_0.4',
    'pytrace_request_recording': 'PYTRACE_0.4',
}
VERSION_NODES = {'PYTRACE_0.1', 'PYTRACE_0.2', 'PYTRACE_0.3', 'PYTRACE_0.4'}


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f'FAILED: {" ".join(cmd)}: {proc.stderr.strip()}')
    return proc.stdout


def header_api(path):
    """Names declared with PYTRACE_API in a public header."""
    text = re.sub(r'/\*.*?\*/', '', open(path).read(), flags=re.S)
    return set(re.findall(r'^PYTRACE_API\b[^;(]*?\b(\w+)\s*\(', text, flags=re.M))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--lib', required=True)
    ap.add_argument('--nm', default='nm')
    ap.add_argument('--readelf', default='readelf')
    ap.add_argument('--soversion', required=True)
    ap.add_argument('--header', required=True, help='include/pytrace/pytrace.h')
    args = ap.parse_args()
    errors = []

    out = run([args.nm, '-D', '--defined-only', args.lib])
    print(out, end='')
    functions, nodes = {}, set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) != 3:
            errors.append(f'unexpected nm line: {line!r}')
            continue
        _, kind, sym = fields
        name, sep, version = sym.partition('@@')
        if kind == 'A' and not sep:
            nodes.add(name)
            continue
        if not sep:
            errors.append(f'{name} is exported without a version (not in pytrace.map?)')
        if name in functions:
            errors.append(f'{name} is exported twice')
        functions[name] = (kind, version)

    for name, (kind, version) in sorted(functions.items()):
        if not name.startswith('pytrace_'):
            errors.append(f'{name} is exported but does not start with pytrace_')
        if name not in EXPECTED:
            errors.append(f'{name} is exported but not part of the API')
        elif version != EXPECTED[name]:
            errors.append(f'{name} is bound to {version!r}, expected {EXPECTED[name]}')
        if kind != 'T':
            errors.append(f'{name} has symbol type {kind}, expected T (a function)')
    for name in sorted(set(EXPECTED) - set(functions)):
        errors.append(f'{name} is not exported')
    if nodes != VERSION_NODES:
        errors.append(f'version nodes {sorted(nodes)}, expected {sorted(VERSION_NODES)}')

    declared = header_api(args.header)
    if declared != set(EXPECTED):
        errors.append(f'{os.path.basename(args.header)} declares PYTRACE_API {sorted(declared)}, '
                      f'this test expects {sorted(EXPECTED)}')

    dyn = run([args.readelf, '-d', args.lib])
    sonames = re.findall(r'\(SONAME\)\s+Library soname: \[(.*?)\]', dyn)
    want = f'libpytrace.so.{args.soversion}'
    if sonames != [want]:
        errors.append(f'SONAME {sonames}, expected [{want!r}]')
    else:
        print('SONAME', sonames[0])

    for e in errors:
        print('FAILED:', e)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
