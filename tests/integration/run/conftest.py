# SPDX-License-Identifier: MIT
# Show detailed diffs for the assertions of the shared helpers, too.
import pytest

pytest.register_assert_rewrite("runlib")
