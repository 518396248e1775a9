/**
 * fsam-lab: the public API of the FSAM Lab library.
 *
 * Fisher SAM (Zhong et al., EMNLP 2022 Findings, arXiv 2210.05497) and the SAM family on tfjs,
 * BERT models and GLUE/SuperGLUE data, inspection tools (Fisher-mask atlas, sharpness, landscapes)
 * and Plotly figure builders.
 */

export * from "./host.ts";
export * from "./types.ts";
export * from "./names.ts";

// --- backend ---

// --- optim ---

// --- models ---

// --- data ---

// --- train ---

// --- inspect ---

// --- plot ---
