# Imported by mainmod: its frames have module "helper".
def double(x):  # @def-double
    return 2 * x  # @ret-double
