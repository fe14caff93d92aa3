"""Helpers the test suites share that are not fixtures: servers started for a test."""
