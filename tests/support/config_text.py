"""The smallest valid config, as YAML text, for tests that append lines to it and check the
line numbers errors report (lines 1-6; appended lines start at 7)."""

SOURCE = "cfg.yaml"

MINIMAL_CONFIG = """\
device_id: dev1
model:
  path: ssd_mobilenet_v1_coco_uint8_300
cameras:
  front:
    source: /dev/video0
"""
