// Retransmission timeout per RFC 6298: SRTT/RTTVAR from one timed segment at a time, Karn's rule
// (a retransmitted segment gives no sample, §3), exponential backoff (§5.5) bounded by a maximum.

export interface RtoLimits {
  initialMs: number;
  minMs: number;
  maxMs: number;
}

export class RtoEstimator {
  private smoothedRttMs: number | undefined;
  private rttVarianceMs = 0;
  private baseRtoMs: number;
  private backoffShift = 0;

  constructor(private readonly limits: RtoLimits) {
    this.baseRtoMs = limits.initialMs;
  }

  /** The current timeout, including backoff. */
  get timeoutMs(): number {
    return Math.min(this.baseRtoMs * 2 ** this.backoffShift, this.limits.maxMs);
  }

  /** Consecutive timeouts since the last forward progress. */
  get backoffCount(): number {
    return this.backoffShift;
  }

  addSample(rttMs: number): void {
    if (this.smoothedRttMs === undefined) {
      this.smoothedRttMs = rttMs;
      this.rttVarianceMs = rttMs / 2;
    } else {
      this.rttVarianceMs = 0.75 * this.rttVarianceMs + 0.25 * Math.abs(this.smoothedRttMs - rttMs);
      this.smoothedRttMs = 0.875 * this.smoothedRttMs + 0.125 * rttMs;
    }
    const rto = this.smoothedRttMs + 4 * this.rttVarianceMs;
    this.baseRtoMs = Math.min(Math.max(rto, this.limits.minMs), this.limits.maxMs);
  }

  backOff(): void {
    this.backoffShift++;
  }

  resetBackoff(): void {
    this.backoffShift = 0;
  }
}
