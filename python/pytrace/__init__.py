# SPDX-License-Identifier: MIT
"""libpytrace's Python side. For now: `pytrace.records`, the reference decoder of fast mode."""
