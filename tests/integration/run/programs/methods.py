# Methods of every kind, class bodies (nested class included) and a property.
class K:  # @def-K
    def __init__(self, v):  # @def-init
        self.v = v  # @ret-init

    def method(self):  # @def-method
        return self.v + 1  # @ret-method

    @staticmethod  # @def-smethod
    def smethod(x):
        return x * 2  # @ret-smethod

    @classmethod  # @def-cmethod
    def cmethod(cls):
        return cls.__name__  # @ret-cmethod

    @property  # @def-prop
    def prop(self):
        return self.v * 10  # @ret-prop

    class Inner:  # @def-Inner
        def method(self):  # @def-inner-method
            return "inner"  # @ret-inner-method


def main():  # @def-main
    k = K(1)
    a = k.method()
    b = K.smethod(a)
    c = k.cmethod()
    d = K.Inner().method()
    e = k.prop
    return a, b, c, d, e  # @ret-main


print(main())  # @last
