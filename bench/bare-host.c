/* SPDX-License-Identifier: MIT */
/*
 * The untraced baseline of the benchmarks: CPython's own main, linked against the same
 * libpython as pytrace-run, so that both differ only by libpytrace.
 */
#include <Python.h>

int main(int argc, char **argv)
{
	return Py_BytesMain(argc, argv);
}
