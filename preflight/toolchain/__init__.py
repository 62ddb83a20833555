"""The external programs preflight runs (FFmpeg, ffprobe): where they are, and one runner."""
