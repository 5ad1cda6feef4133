"""Test support: real Redis servers started and stopped by the tests."""
