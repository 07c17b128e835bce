namespace MotionTune.Video;

/// <summary>A video or frame file that is empty, corrupt, unsupported or cannot be encoded; the message names the file.</summary>
public sealed class VideoFormatException(string message, Exception? inner = null) : IOException(message, inner);
