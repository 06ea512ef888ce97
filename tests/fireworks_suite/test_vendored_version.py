"""The vendored suite belongs to one FireWorks version: a different installed FireWorks needs it re-vendored."""

import fireworks

from tests.fireworks_suite.conftest import VENDORED_VERSION


def test_vendored_suite_is_the_installed_fireworks():
    assert fireworks.__version__ == VENDORED_VERSION, "re-vendor tests/fireworks_suite/upstream for this FireWorks"
