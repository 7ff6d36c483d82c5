# SPDX-License-Identifier: MIT
"""Method-heavy object-oriented code: small objects, __init__ chains through super(), properties
(getters and a setter), overridden and inherited methods, dunder methods, a dataclass,
classmethods and staticmethods. size = scenes built and queried."""
from dataclasses import dataclass

import benchlib


class Vec:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __add__(self, other):
        return Vec(self.x + other.x, self.y + other.y)

    def scaled(self, k):
        return Vec(self.x * k, self.y * k)

    @property
    def norm2(self):
        return self.x * self.x + self.y * self.y


@dataclass
class Style:
    color: str
    width: int = 1

    def heavier(self):
        return Style(self.color, self.width + 1)


class Shape:
    created = 0

    def __init__(self, origin, style):
        self.origin = origin
        self.style = style
        Shape.created += 1

    def area(self):
        raise NotImplementedError

    def kind(self):
        return "shape"

    def moved(self, delta):
        self.origin = self.origin + delta
        return self

    def describe(self):
        return (self.kind(), self.area(), self.origin.norm2)

    @classmethod
    def unit(cls, style):
        return cls(Vec(0, 0), style)


class Circle(Shape):
    def __init__(self, origin, style, r=1.0):
        super().__init__(origin, style)
        self._r = r

    @property
    def r(self):
        return self._r

    @r.setter
    def r(self, value):
        self._r = value

    def area(self):
        return 3.14159 * self.r * self.r

    def kind(self):
        return "circle"


class Rect(Shape):
    def __init__(self, origin, style, w=1.0, h=2.0):
        super().__init__(origin, style)
        self.w = w
        self.h = h

    def area(self):
        return self.w * self.h

    def kind(self):
        return "rect"


class Square(Rect):
    def __init__(self, origin, style, side=1.0):
        super().__init__(origin, style, side, side)

    @staticmethod
    def sides():
        return 4


class Scene:
    def __init__(self):
        self.shapes = []

    def add(self, shape):
        self.shapes.append(shape)
        return self

    def __len__(self):
        return len(self.shapes)

    def total_area(self):
        total = 0.0
        for s in self.shapes:
            total += s.area()
        return total

    def report(self):
        return [s.describe() for s in self.shapes]


def build(i, style):
    scene = Scene()
    c = Circle(Vec(i, 1), style, 2.0)
    c.r = c.r + 1
    scene.add(c).add(Rect(Vec(1, i), style.heavier())).add(Square.unit(style))
    for s in scene.shapes:
        s.moved(Vec(1, 1).scaled(2))
    return scene


def make(size):
    style = Style("red")

    def work():
        total = 0.0
        for i in range(size):
            scene = build(i, style)
            total += scene.total_area() + len(scene) + Square.sides()
            scene.report()
        return total

    return work


if __name__ == "__main__":
    benchlib.main(make, "oop", default_size=10000, quick_size=1000)
