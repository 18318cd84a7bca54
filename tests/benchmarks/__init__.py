"""Tests for the site simulator and the benchmark."""
