# SPDX-License-Identifier: MIT
"""Each public header compiles on its own, as C (gnu11, -Wall -Wextra -Werror) and as C++.

Every header found in the source and build include/pytrace/ folders is checked, so a new header
is covered without editing this script. Beyond "includes alone", pytrace.h must also work
before and after <Python.h> (it repeats CPython's PyInterpreterState typedef), and its
PYTRACE_OPTS() macro must compile warning-free in C.
"""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile

C_FLAGS = ['-std=gnu11', '-Wall', '-Wextra', '-Werror']
CXX_FLAGS = ['-std=c++11', '-Wall', '-Wextra', '-Werror', '-fsyntax-only']

USE_OPTS = '''\
#include <pytrace/pytrace.h>
int use_opts(PyInterpreterState *interp);
int use_opts(PyInterpreterState *interp)
{
	PYTRACE_OPTS(pytrace_attach_opts, defaults);
	PYTRACE_OPTS(pytrace_attach_opts, opts, .c_calls = true);

	return pytrace_attach(interp, &defaults) + pytrace_attach(interp, &opts);
}
'''


def compile_one(compiler, flags, incdirs, name, text, tmp, failures):
    ext = '.cpp' if name.startswith('cxx_') else '.c'
    src = os.path.join(tmp, name + ext)
    with open(src, 'w') as f:
        f.write(text)
    cmd = compiler + flags + ['-I' + d for d in incdirs] + ['-c', src]
    if '-fsyntax-only' not in flags:
        cmd += ['-o', os.path.join(tmp, name + '.o')]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    status = 'ok' if proc.returncode == 0 else 'FAILED'
    print(f'{status}: {name}: {shlex.join(cmd)}')
    if proc.returncode != 0:
        print(text)
        print(proc.stdout + proc.stderr)
        failures.append(name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cc', required=True, help='C compiler command (shell words)')
    ap.add_argument('--cxx', required=True, help='C++ compiler command (shell words)')
    ap.add_argument('--python-cflags', default='', help='cflags of python3-embed')
    ap.add_argument('incdirs', nargs='+', help='include dirs, each holding pytrace/')
    args = ap.parse_args()
    cc, cxx = shlex.split(args.cc), shlex.split(args.cxx)
    py_cflags = shlex.split(args.python_cflags)

    headers = sorted({h for d in args.incdirs if os.path.isdir(os.path.join(d, 'pytrace'))
                      for h in os.listdir(os.path.join(d, 'pytrace')) if h.endswith('.h')})
    print('headers:', ' '.join(headers))
    missing = {'pytrace.h', 'version.h'} - set(headers)
    if missing:
        print('FAILED: not found:', ' '.join(sorted(missing)))
        return 1

    failures = []
    with tempfile.TemporaryDirectory(prefix='pytrace-headers-') as tmp:
        for h in headers:
            stem = h[:-2].replace('-', '_')
            text = f'#include <pytrace/{h}>\n'
            # A translation unit must not be empty in ISO C; the declaration keeps it valid.
            compile_one(cc, C_FLAGS, args.incdirs, f'c_{stem}',
                        text + 'extern int pytrace_header_test;\n', tmp, failures)
            compile_one(cxx, CXX_FLAGS, args.incdirs, f'cxx_{stem}', text, tmp, failures)
        compile_one(cc, C_FLAGS, args.incdirs, 'c_opts_macro', USE_OPTS, tmp, failures)
        if py_cflags:
            # PyInterpreterState_Main() returns the type in every supported CPython
            # (PyInterpreterState_Get() is 3.9+)
            inc = args.incdirs
            for lang, comp, flags in (('c', cc, C_FLAGS), ('cxx', cxx, CXX_FLAGS)):
                fl = flags + py_cflags
                compile_one(comp, fl, inc, f'{lang}_before_python',
                            '#include <pytrace/pytrace.h>\n#include <Python.h>\n'
                            'int f(void);\nint f(void) { return PyInterpreterState_Main() != 0; }\n',
                            tmp, failures)
                compile_one(comp, fl, inc, f'{lang}_after_python',
                            '#include <Python.h>\n#include <pytrace/pytrace.h>\n'
                            'int f(void);\n'
                            'int f(void) { return pytrace_attach(PyInterpreterState_Main(), 0); }\n',
                            tmp, failures)
    if failures:
        print('FAILED:', ' '.join(failures))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
