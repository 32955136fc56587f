"""Text2Video: reference video + text prompt -> a new character performing the same motion.

Stages, each in its own subpackage:
  prompt/     Vietnamese -> English (envit5), language detection, CLIP token report
  pose/       person detection + RTMPose on ONNX Runtime, tracking, repair, skeleton rendering
  diffusion/  Follow-Your-Pose UNet3D, weight loading, the diffusers-style pipeline
  video/      PyAV video reading and writing (MP4/GIF/side-by-side)
Around them: engine.py (one request through all stages), jobs/ (job store, webhook outbox, worker registry, Celery
queue, worker), storage.py (job files), netguard.py (SSRF-safe outbound HTTP), webhooks.py (signed callbacks),
api/ (Flask REST API; the only place that makes URLs), models/ (model folders, download, demo weights, memory
presets), cli/ (manage.py).
"""

__version__ = "0.1.0"
