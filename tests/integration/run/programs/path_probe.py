# Copied by the tests to directories whose names are not ASCII, or not even decodable.
def probe():  # @def-probe
    return 1  # @ret-probe


print(ascii(__file__))
print(probe())  # @last
