package dev.sevnet.data;

import static org.bytedeco.ffmpeg.global.avcodec.AV_CODEC_FLAG_GLOBAL_HEADER;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_alloc;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_free;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_rescale_ts;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_unref;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_alloc_context3;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_find_decoder;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_find_encoder;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_free_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_open2;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_parameters_from_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_parameters_to_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_receive_frame;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_receive_packet;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_send_frame;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_send_packet;
import static org.bytedeco.ffmpeg.global.avformat.AVFMT_GLOBALHEADER;
import static org.bytedeco.ffmpeg.global.avformat.AVFMT_NOFILE;
import static org.bytedeco.ffmpeg.global.avformat.AVIO_FLAG_WRITE;
import static org.bytedeco.ffmpeg.global.avformat.av_find_best_stream;
import static org.bytedeco.ffmpeg.global.avformat.av_interleaved_write_frame;
import static org.bytedeco.ffmpeg.global.avformat.av_read_frame;
import static org.bytedeco.ffmpeg.global.avformat.av_write_trailer;
import static org.bytedeco.ffmpeg.global.avformat.avformat_alloc_output_context2;
import static org.bytedeco.ffmpeg.global.avformat.avformat_close_input;
import static org.bytedeco.ffmpeg.global.avformat.avformat_find_stream_info;
import static org.bytedeco.ffmpeg.global.avformat.avformat_free_context;
import static org.bytedeco.ffmpeg.global.avformat.avformat_new_stream;
import static org.bytedeco.ffmpeg.global.avformat.avformat_open_input;
import static org.bytedeco.ffmpeg.global.avformat.avformat_write_header;
import static org.bytedeco.ffmpeg.global.avformat.avio_closep;
import static org.bytedeco.ffmpeg.global.avformat.avio_open;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EAGAIN;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EOF;
import static org.bytedeco.ffmpeg.global.avutil.AVMEDIA_TYPE_VIDEO;
import static org.bytedeco.ffmpeg.global.avutil.AV_LOG_FATAL;
import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_RGB24;
import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_YUV420P;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_alloc;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_free;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_get_buffer;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_make_writable;
import static org.bytedeco.ffmpeg.global.avutil.av_log_set_level;
import static org.bytedeco.ffmpeg.global.avutil.av_make_q;
import static org.bytedeco.ffmpeg.global.avutil.av_strerror;
import static org.bytedeco.ffmpeg.global.swscale.SWS_BILINEAR;
import static org.bytedeco.ffmpeg.global.swscale.sws_freeContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_getCachedContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_scale;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.bytedeco.ffmpeg.avcodec.AVCodec;
import org.bytedeco.ffmpeg.avcodec.AVCodecContext;
import org.bytedeco.ffmpeg.avcodec.AVCodecParameters;
import org.bytedeco.ffmpeg.avcodec.AVPacket;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVIOContext;
import org.bytedeco.ffmpeg.avformat.AVStream;
import org.bytedeco.ffmpeg.avutil.AVDictionary;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.avutil.AVRational;
import org.bytedeco.ffmpeg.swscale.SwsContext;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Direct use of the FFmpeg libraries through the JavaCPP {@code ffmpeg} preset: demux, decode,
 * convert to RGB24 with swscale, and the reverse for writing. Only libavformat, libavcodec,
 * libavutil and libswscale are loaded (not libavdevice, whose PulseAudio dependency is absent on
 * headless machines).
 */
final class Ffmpeg {
    static {
        // FFmpeg would print every concealed macroblock of a corrupt file; our exceptions say enough.
        av_log_set_level(AV_LOG_FATAL);
    }

    private Ffmpeg() {
    }

    /** Runs the static initialiser (quiet log) before the first native call. */
    static void init() {
        // nothing: loading this class did the work
    }

    /** Receives decoded frames in presentation order; returns false to stop decoding. */
    interface FrameSink {
        /** {@code rgb} is valid only during the call; see {@link #copyRgb}. */
        boolean accept(int index, int width, int height, ByteBuffer rgb, int stride);
    }

    /** A tight {@code [H, W, 3]} copy of a padded RGB24 image. */
    static byte[] copyRgb(ByteBuffer rgb, int stride, int width, int height) {
        byte[] out = new byte[width * height * 3];
        int row = width * 3;
        for (int y = 0; y < height; y++) {
            rgb.get(y * stride, out, y * row, row);
        }
        return out;
    }

    /** Row stride swscale may write with SIMD stores: a multiple of 64 bytes. */
    static int paddedStride(int width) {
        return (width * 3 + 63) & ~63;
    }

    /** An opened input: the container's frame count (or -1) before decoding starts. */
    static final class Decoder implements AutoCloseable {
        private final Path file;
        private AVFormatContext format;
        private AVCodecContext codec;
        private final int stream;
        private final int announcedFrames;

        Decoder(Path file) {
            init();
            this.file = file;
            AVFormatContext fmt = new AVFormatContext(null);
            int err = avformat_open_input(fmt, file.toString(), null, null);
            if (err < 0) {
                throw new VideoDecodeException(file, "not a readable video (" + errorString(err) + ")");
            }
            this.format = fmt;
            try {
                err = avformat_find_stream_info(fmt, (PointerPointer<?>) null);
                if (err < 0) {
                    throw new VideoDecodeException(file, "no stream information (" + errorString(err) + ")");
                }
                stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, (AVCodec) null, 0);
                if (stream < 0) {
                    throw new VideoDecodeException(file, "no video stream");
                }
                AVStream st = fmt.streams(stream);
                AVCodecParameters par = st.codecpar();
                AVCodec dec = avcodec_find_decoder(par.codec_id());
                if (dec == null || dec.isNull()) {
                    throw new VideoDecodeException(file, "no decoder for codec id " + par.codec_id());
                }
                codec = avcodec_alloc_context3(dec);
                avcodec_parameters_to_context(codec, par);
                codec.thread_count(1); // the loader decodes several videos at once; one thread each
                err = avcodec_open2(codec, dec, (AVDictionary) null);
                if (err < 0) {
                    throw new VideoDecodeException(file, "cannot open decoder (" + errorString(err) + ")");
                }
                // only a count the container states (mp4); estimates from duration (webm) are often one off
                long n = st.nb_frames();
                announcedFrames = n > 0 ? (int) Math.min(Integer.MAX_VALUE, n) : -1;
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        /** Frame count from the container (exact for mp4, estimated for webm), or -1. */
        int announcedFrames() {
            return announcedFrames;
        }

        int width() {
            return codec.width();
        }

        int height() {
            return codec.height();
        }

        /** Decodes frames into {@code sink} until the stream ends or the sink says stop; returns frames decoded. */
        int decode(FrameSink sink) {
            AVPacket packet = av_packet_alloc();
            AVFrame frame = av_frame_alloc();
            SwsContext sws = null;
            BytePointer rgb = null;
            PointerPointer<BytePointer> dst = null;
            IntPointer dstStride = null;
            int decoded = 0;
            int width = -1;
            int height = -1;
            int stride = 0;
            ByteBuffer rgbView = null;
            boolean more = true;
            try {
                boolean flushing = false;
                while (more) {
                    if (!flushing) {
                        int err = av_read_frame(format, packet);
                        if (err < 0) {
                            flushing = true;
                            avcodec_send_packet(codec, null);
                        } else {
                            if (packet.stream_index() == stream) {
                                // a damaged packet is dropped; the decoder conceals it and we go on
                                avcodec_send_packet(codec, packet);
                            }
                            av_packet_unref(packet);
                        }
                    }
                    while (more) {
                        int err = avcodec_receive_frame(codec, frame);
                        if (err == AVERROR_EAGAIN() || err == AVERROR_EOF) {
                            if (flushing) {
                                more = false;
                            }
                            break;
                        }

                        if (err < 0) {
                            throw new VideoDecodeException(file, "decoding failed at frame " + decoded + " ("
                                    + errorString(err) + ")");
                        }
                        if (width < 0) {
                            width = frame.width();
                            height = frame.height();
                            stride = paddedStride(width);
                            // padded rows plus slack: swscale's vector code writes past the last pixel
                            rgb = new BytePointer((long) stride * (height + 1) + 64);
                            rgbView = rgb.asBuffer();
                            dst = new PointerPointer<>(1);
                            dst.put(0, rgb);
                            dstStride = new IntPointer(1);
                            dstStride.put(0, stride);
                        }
                        // later frames of another size are scaled to the first one's
                        sws = sws_getCachedContext(sws, frame.width(), frame.height(), frame.format(), width, height,
                                AV_PIX_FMT_RGB24, SWS_BILINEAR, null, null, (DoublePointer) null);
                        if (sws == null || sws.isNull()) {
                            throw new VideoDecodeException(file, "cannot convert pixel format " + frame.format());
                        }
                        sws_scale(sws, frame.data(), frame.linesize(), 0, frame.height(), dst, dstStride);
                        more = sink.accept(decoded++, width, height, rgbView, stride);
                    }
                }
                return decoded;
            } finally {
                av_packet_free(packet);
                av_frame_free(frame);
                if (sws != null) {
                    sws_freeContext(sws);
                }
                if (rgb != null) {
                    rgb.close();
                    dst.close();
                    dstStride.close();
                }
            }
        }

        @Override
        public void close() {
            if (codec != null) {
                avcodec_free_context(codec);
                codec = null;
            }
            if (format != null) {
                avformat_close_input(format);
                format = null;
            }
        }
    }

    /** Encodes RGB24 frames to {@code file} with the container and codec of {@code codec}. */
    static void encode(Path file, RgbFrames frames, int fps, VideoWriter.Codec codec) throws IOException {
        init();
        int w = frames.width();
        int h = frames.height();
        AVFormatContext out = new AVFormatContext(null);
        int err = avformat_alloc_output_context2(out, null, codec.format, file.toString());
        if (err < 0) {
            throw new IOException("cannot create " + codec.format + " output " + file + ": " + errorString(err));
        }
        AVCodecContext c = null;
        AVPacket packet = null;
        AVFrame yuv = null;
        SwsContext sws = null;
        boolean opened = false;
        try {
            AVCodec encoder = avcodec_find_encoder(codec.codecId);
            if (encoder == null || encoder.isNull()) {
                throw new IOException("this FFmpeg build has no encoder for " + codec);
            }
            AVStream stream = avformat_new_stream(out, null);
            c = avcodec_alloc_context3(encoder);
            c.width(w);
            c.height(h);
            AVRational timeBase = av_make_q(1, fps);
            c.time_base(timeBase);
            c.framerate(av_make_q(fps, 1));
            c.pix_fmt(AV_PIX_FMT_YUV420P);
            c.gop_size(fps);
            c.max_b_frames(0);
            // generous bitrate: synthetic clips must keep their edges (and so their motion) through coding
            c.bit_rate(Math.max(500_000L, (long) w * h * fps * 4));
            c.thread_count(1);
            if ((out.oformat().flags() & AVFMT_GLOBALHEADER) != 0) {
                c.flags(c.flags() | AV_CODEC_FLAG_GLOBAL_HEADER);
            }
            err = avcodec_open2(c, encoder, (AVDictionary) null);
            if (err < 0) {
                throw new IOException("cannot open encoder " + encoder.name().getString() + ": " + errorString(err));
            }
            avcodec_parameters_from_context(stream.codecpar(), c);
            stream.time_base(timeBase);
            if ((out.oformat().flags() & AVFMT_NOFILE) == 0) {
                AVIOContext pb = new AVIOContext(null);
                err = avio_open(pb, file.toString(), AVIO_FLAG_WRITE);
                if (err < 0) {
                    throw new IOException("cannot open " + file + " for writing: " + errorString(err));
                }
                out.pb(pb);
                opened = true;
            }
            err = avformat_write_header(out, (AVDictionary) null);
            if (err < 0) {
                throw new IOException("cannot write header of " + file + ": " + errorString(err));
            }
            packet = av_packet_alloc();
            yuv = av_frame_alloc();
            yuv.format(AV_PIX_FMT_YUV420P);
            yuv.width(w);
            yuv.height(h);
            check(av_frame_get_buffer(yuv, 0), "frame buffer");
            sws = sws_getCachedContext(null, w, h, AV_PIX_FMT_RGB24, w, h, AV_PIX_FMT_YUV420P, SWS_BILINEAR,
                    null, null, (DoublePointer) null);
            int stride = paddedStride(w);
            try (BytePointer rgb = new BytePointer((long) stride * (h + 1) + 64);
                    PointerPointer<BytePointer> src = new PointerPointer<>(1);
                    IntPointer srcStride = new IntPointer(1)) {
                src.put(0, rgb);
                srcStride.put(0, stride);
                ByteBuffer rgbView = rgb.asBuffer();
                int row = w * 3;
                for (int i = 0; i < frames.count(); i++) {
                    byte[] f = frames.frame(i);
                    for (int y = 0; y < h; y++) {
                        rgbView.put(y * stride, f, y * row, row);
                    }
                    check(av_frame_make_writable(yuv), "writable frame");
                    sws_scale(sws, src, srcStride, 0, h, yuv.data(), yuv.linesize());
                    yuv.pts(i);
                    check(avcodec_send_frame(c, yuv), "send frame " + i);
                    drain(out, c, stream, packet);
                }
            }
            check(avcodec_send_frame(c, null), "flush");
            drain(out, c, stream, packet);
            check(av_write_trailer(out), "trailer");
        } finally {
            if (sws != null) {
                sws_freeContext(sws);
            }
            if (yuv != null) {
                av_frame_free(yuv);
            }
            if (packet != null) {
                av_packet_free(packet);
            }
            if (c != null) {
                avcodec_free_context(c);
            }
            if (opened) {
                avio_closep(out.pb());
            }
            avformat_free_context(out);
        }
    }

    private static void drain(AVFormatContext out, AVCodecContext c, AVStream stream, AVPacket packet)
            throws IOException {
        while (true) {
            int err = avcodec_receive_packet(c, packet);
            if (err == AVERROR_EAGAIN() || err == AVERROR_EOF) {
                return;
            }
            check(err, "encode");
            // one frame long: without a duration mp4's edit list cuts the last frame off
            packet.duration(1);
            av_packet_rescale_ts(packet, c.time_base(), stream.time_base());
            packet.stream_index(stream.index());
            check(av_interleaved_write_frame(out, packet), "write packet");
        }
    }

    private static void check(int err, String what) throws IOException {
        if (err < 0) {
            throw new IOException("FFmpeg failed at " + what + ": " + errorString(err));
        }
    }

    static String errorString(int err) {
        byte[] buf = new byte[256];
        av_strerror(err, buf, buf.length);
        int n = 0;
        while (n < buf.length && buf[n] != 0) {
            n++;
        }
        return new String(buf, 0, n, java.nio.charset.StandardCharsets.UTF_8) + " (" + err + ")";
    }
}
