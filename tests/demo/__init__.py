"""Tests of the demo site."""
