# Exceptions raised, propagated through frames and caught; chained; re-raised; through finally;
# raised inside C code (int(), dict lookup, json); types from this module (nested class too).
import json


class AppError(Exception):  # @def-AppError
    class Detail(Exception):  # @def-Detail
        pass  # @ret-Detail


def inner():  # @def-inner
    raise ValueError("bad")  # @raise-inner


def middle():  # @def-middle
    inner()  # @call-inner


def outer():  # @def-outer
    try:
        middle()  # @call-middle
    except ValueError:
        return "caught"  # @ret-outer


def translate():  # @def-translate
    try:
        inner()  # @translate-call
    except ValueError as e:
        raise AppError("translated") from e  # @translate-raise


def reraise():  # @def-reraise
    try:
        translate()  # @reraise-call
    except AppError:
        raise  # @reraise-raise


def cleanup():  # @def-cleanup
    return None  # @ret-cleanup


def with_finally():  # @def-with_finally
    try:
        inner()  # @finally-call
    finally:
        cleanup()  # @finally-cleanup


def in_c():  # @def-in_c
    n = 0
    try:
        int("x")  # @int-call
    except ValueError:
        n += 1
    try:
        {}["missing"]  # @dict-lookup
    except KeyError:
        n += 1
    try:
        json.loads("{")  # @json-call
    except json.JSONDecodeError:
        n += 1
    try:
        raise AppError.Detail()  # @detail-raise
    except AppError.Detail:
        n += 1
    return n  # @ret-in_c


def main():  # @def-main
    results = [outer()]
    try:
        reraise()  # @main-reraise
    except AppError as e:
        results.append(type(e.__cause__).__name__)
    try:
        with_finally()  # @main-finally
    except ValueError:
        results.append("finally")
    results.append(in_c())
    return results  # @ret-main


print(main())  # @last
