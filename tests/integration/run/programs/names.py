# Non-ASCII identifiers: a class, a method, a function and an exception type.
class Ünïcode:  # @def-Ünïcode
    def größe(self):  # @def-method
        return "groß"  # @ret-method


class Fehlerä(Exception):  # @def-Fehlerä
    pass  # @ret-Fehlerä


def größe():  # @def-größe
    try:
        raise Fehlerä()  # @raise
    except Fehlerä:
        return Ünïcode().größe()  # @ret-größe


print(größe())  # @last
