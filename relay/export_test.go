package relay

// SeqGapAfterEarly is seqGapAfterEarly, for the process tests.
const SeqGapAfterEarly = seqGapAfterEarly
