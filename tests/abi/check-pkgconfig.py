# SPDX-License-Identifier: MIT
"""The generated pkg-config files work for a program outside the project.

- pytrace-uninstalled.pc (meson-uninstalled/): pkg-config resolves it, and a program built with
  exactly its --cflags --libs links against the build's libpytrace and prints pytrace_version().
- pytrace.pc, installed form (meson-private/): Requires the interpreter's embed module
  (--python-pc: python3-embed, or python-3.X-embed of a pyenv CPython), Libs -lpytrace from
  ${libdir}, Cflags -I${includedir} (headers live in ${includedir}/pytrace/).
- With --meson: the same program built against a `meson install --destdir` tree, through the
  installed pytrace.pc, so the install layout (headers, library links, .pc) is checked too.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile

PROGRAM = '''\
#include <Python.h>

#include <stdio.h>
#include <string.h>

#include <pytrace/pytrace.h>

int main(void)
{
	/* Requires: pythonX-embed brings Python.h, and both headers agree on the typedef. */
	int (*attach)(PyInterpreterState *, const struct pytrace_attach_opts *) = pytrace_attach;
	const char *v = pytrace_version();

	if (!attach) {
		return 1;
	}

	if (!v || strcmp(v, PYTRACE_VERSION_STRING) != 0) {
		fprintf(stderr, "library %s, headers %s\\n", v ? v : "(null)",
			PYTRACE_VERSION_STRING);
		return 1;
	}
	printf("%s\\n", v);
	return 0;
}
'''

errors = []


def run(cmd, env=None, check=True):
    print('$', shlex.join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.stdout.strip():
        print(proc.stdout.rstrip())
    if proc.stderr.strip():
        print(proc.stderr.rstrip())
    if check and proc.returncode != 0:
        errors.append(f'{shlex.join(cmd)} exited with {proc.returncode}')
        return None
    return proc


def env_with(**kw):
    env = dict(os.environ)
    env.update(kw)
    return env


def pc_env_with(args, path):
    """An environment where pkg-config finds @path first, then the interpreter's .pc."""
    return env_with(PKG_CONFIG_PATH=':'.join(p for p in (path, args.python_pc_path) if p))


def python_libdir(args, pkg_config):
    """The interpreter's libdir: a program linking libpython from outside the system's
    directories (pyenv) finds it there at run time."""
    proc = run([pkg_config, '--variable=libdir', args.python_pc], env=pc_env_with(args, ''))
    return proc.stdout.strip() if proc else ''


def build_and_run(args, pkg_config, tmp, tag, pc_env, module, ld_path):
    """Compiles PROGRAM with `pkg-config --cflags --libs module` and checks what it prints."""
    proc = run([pkg_config, '--modversion', module], env=pc_env)
    if proc and proc.stdout.strip() != args.version:
        errors.append(f'{module}: --modversion {proc.stdout.strip()!r}, expected {args.version}')
    proc = run([pkg_config, '--cflags', '--libs', module], env=pc_env)
    if not proc:
        return
    flags = shlex.split(proc.stdout)
    if '-lpytrace' not in flags:
        errors.append(f'{module}: no -lpytrace in {flags}')
    src = os.path.join(tmp, f'{tag}.c')
    exe = os.path.join(tmp, tag)
    with open(src, 'w') as f:
        f.write(PROGRAM)
    if not run(shlex.split(args.cc) + ['-Wall', '-Wextra', '-Werror', src, '-o', exe] + flags):
        return
    ld_path = ':'.join(p for p in (ld_path, python_libdir(args, pkg_config)) if p)
    proc = run([exe], env=env_with(LD_LIBRARY_PATH=ld_path))
    if proc and proc.stdout.strip() != args.version:
        errors.append(f'{tag}: printed {proc.stdout.strip()!r}, expected {args.version}')


def parse_pc(path):
    variables, fields = {}, {}
    for line in open(path):
        line = line.strip()
        m = re.match(r'^([A-Za-z_][\w.]*)\s*([:=])\s*(.*)$', line)
        if m:
            (fields if m.group(2) == ':' else variables)[m.group(1)] = m.group(3)
    return variables, fields


def check_installed_form(args):
    path = os.path.join(args.builddir, 'meson-private', 'pytrace.pc')
    print('checking', path)
    variables, fields = parse_pc(path)
    want = {
        'Name': lambda v: v == 'pytrace',
        'Version': lambda v: v == args.version,
        'Requires': lambda v: args.python_pc in re.split(r'[\s,]+', v),
        'Libs': lambda v: '-lpytrace' in v.split() and '-L${libdir}' in v.split(),
        'Cflags': lambda v: v.split() == ['-I${includedir}'],
    }
    for key, ok in want.items():
        if key not in fields:
            errors.append(f'pytrace.pc: no {key}:')
        elif not ok(fields[key]):
            errors.append(f'pytrace.pc: unexpected {key}: {fields[key]}')
    if variables.get('includedir') != '${prefix}/include':
        errors.append(f'pytrace.pc: includedir={variables.get("includedir")}')
    if 'libdir' not in variables or not variables['libdir'].startswith('${prefix}/'):
        errors.append(f'pytrace.pc: libdir={variables.get("libdir")} is not under ${{prefix}}')
    if 'lttng-ust' in fields.get('Requires', ''):
        errors.append('pytrace.pc: lttng-ust is a public Requires; the API does not expose it')
    return variables


def check_install_tree(args, tmp, variables):
    destdir = os.path.join(tmp, 'destdir')
    if not run([*shlex.split(args.meson), 'install', '--no-rebuild', '--quiet', '-C',
                args.builddir, '--destdir', destdir]):
        return
    prefix = destdir + args.prefix
    libdir = variables['libdir'].replace('${prefix}', prefix)
    incdir = variables['includedir'].replace('${prefix}', prefix)
    for rel in ('pytrace/pytrace.h', 'pytrace/version.h'):
        if not os.path.isfile(os.path.join(incdir, rel)):
            errors.append(f'install: {rel} is not in includedir')
    for name in ('libpytrace.so', f'libpytrace.so.{args.soversion}'):
        if not os.path.exists(os.path.join(libdir, name)):
            errors.append(f'install: {name} is not in libdir')
    # pkg-config knows no destdir: relocate a copy of the installed .pc to the staged prefix
    # (only ours: --define-variable would move the interpreter's prefix as well).
    pcdir = os.path.join(tmp, 'pkgconfig')
    os.mkdir(pcdir)
    with open(os.path.join(libdir, 'pkgconfig', 'pytrace.pc')) as f:
        text = f.read()
    text, n = re.subn(r'^prefix=.*$', lambda m: 'prefix=' + prefix, text, count=1, flags=re.M)
    if n != 1:
        errors.append('installed pytrace.pc has no prefix= line')
        return
    with open(os.path.join(pcdir, 'pytrace.pc'), 'w') as f:
        f.write(text)
    pc_env = pc_env_with(args, pcdir)
    build_and_run(args, args.pkg_config, tmp, 'installed', pc_env, 'pytrace', libdir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--builddir', required=True)
    ap.add_argument('--libdir', required=True, help='build folder holding libpytrace.so')
    ap.add_argument('--cc', required=True)
    ap.add_argument('--pkg-config', required=True)
    ap.add_argument('--version', required=True)
    ap.add_argument('--soversion', required=True)
    ap.add_argument('--meson', help='meson command: also check a `meson install` tree')
    ap.add_argument('--prefix', help='the configured prefix (with --meson)')
    ap.add_argument('--python-pc', default='python3-embed',
                    help='pkg-config module of the interpreter (meson option `python`)')
    ap.add_argument('--python-pc-path', default='',
                    help='where pkg-config finds it, if not in its default path')
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix='pytrace-pc-') as tmp:
        pc_env = pc_env_with(args, os.path.join(args.builddir, 'meson-uninstalled'))
        build_and_run(args, args.pkg_config, tmp, 'uninstalled', pc_env, 'pytrace-uninstalled',
                      args.libdir)
        variables = check_installed_form(args)
        if args.meson and not errors:
            check_install_tree(args, tmp, variables)

    for e in errors:
        print('FAILED:', e)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
