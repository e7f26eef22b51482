/** Address text and prefixes live in the inet library; node/ code keeps importing them from here. */
export * from '../../inet/address.js';
