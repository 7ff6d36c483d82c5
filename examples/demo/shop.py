# SPDX-License-Identifier: MIT
"""A small program for scripts/demo.sh: methods, a generator, a caught exception, a thread."""
import threading


class OutOfStock(Exception):
    pass


class Shop:
    def __init__(self, stock):
        self.stock = dict(stock)

    def items(self, order):
        for name, qty in order.items():
            yield name, qty

    def take(self, name, qty):
        if self.stock.get(name, 0) < qty:
            raise OutOfStock(name)
        self.stock[name] -= qty

    def checkout(self, order):
        taken = 0
        for name, qty in self.items(order):
            try:
                self.take(name, qty)
                taken += qty
            except OutOfStock:
                pass
        return taken


def restock(shop):
    shop.stock["tea"] = shop.stock.get("tea", 0) + 5


shop = Shop({"tea": 1, "cake": 2})
worker = threading.Thread(target=restock, args=(shop,), name="restocker")
worker.start()
worker.join()
print("items taken:", shop.checkout({"tea": 2, "cake": 3}))
