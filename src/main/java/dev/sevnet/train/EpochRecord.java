package dev.sevnet.train;

/**
 * One line of {@code metrics.jsonl}: what one epoch did. Validation fields are NaN when the epoch
 * was not evaluated; {@code valMap} (per class) and {@code valSampleMap} (per sample, mmaction2's MMIT mAP) are NaN
 * for single-label data. {@code skippedVideos} counts the training samples that could not be decoded this epoch,
 * {@code valSkippedVideos} the validation ones.
 */
public record EpochRecord(int epoch, long step, double lr, double trainLoss, double trainTop1, double valLoss,
        double valTop1, double valTop5, double valMeanClassAcc, double valMap, double clipsPerSec, double epochSeconds,
        int skippedVideos, int valSkippedVideos, double valSampleMap) {
    /** Without the per-sample mAP (NaN): single-label runs, and lines written before it existed. */
    public EpochRecord(int epoch, long step, double lr, double trainLoss, double trainTop1, double valLoss,
            double valTop1, double valTop5, double valMeanClassAcc, double valMap, double clipsPerSec,
            double epochSeconds, int skippedVideos, int valSkippedVideos) {
        this(epoch, step, lr, trainLoss, trainTop1, valLoss, valTop1, valTop5, valMeanClassAcc, valMap, clipsPerSec,
                epochSeconds, skippedVideos, valSkippedVideos, Double.NaN);
    }
}
