"""Tests of the video model families."""
