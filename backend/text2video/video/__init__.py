"""Video I/O with PyAV: safe probing of uploads, streaming sampled reading, atomic MP4/GIF/side-by-side writing.

    from text2video.video import probe_video, iter_frames, VideoWriter, write_gif
"""

from .probe import ALLOWED_FORMATS, VideoInfo, count_packets, open_input, probe_video
from .reader import SampledFrame, iter_frames, iter_sampled, read_frames, sampled_fps, sampled_frame_count
from .transforms import apply_orientation, as_rgb_uint8, center_crop, pad_to_even, resize_and_crop
from .writer import VideoWriter, write_gif, write_mp4, write_side_by_side

__all__ = [
    "ALLOWED_FORMATS", "VideoInfo", "probe_video", "open_input", "count_packets",
    "SampledFrame", "iter_frames", "iter_sampled", "read_frames", "sampled_fps", "sampled_frame_count",
    "resize_and_crop", "center_crop", "apply_orientation", "as_rgb_uint8", "pad_to_even",
    "VideoWriter", "write_mp4", "write_gif", "write_side_by_side",
]
