package dev.sevnet.train;

/**
 * One line of {@code metrics.jsonl}: what one epoch did. Validation fields are NaN when the epoch
 * was not evaluated; {@code valMap} is NaN for single-label data. {@code skippedVideos} counts the training
 * samples that could not be decoded this epoch, {@code valSkippedVideos} the validation ones.
 */
public record EpochRecord(int epoch, long step, double lr, double trainLoss, double trainTop1, double valLoss,
        double valTop1, double valTop5, double valMeanClassAcc, double valMap, double clipsPerSec, double epochSeconds,
        int skippedVideos, int valSkippedVideos) {
}
