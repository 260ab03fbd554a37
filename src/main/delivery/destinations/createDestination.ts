import { StudioError } from '../../../shared/errors';
import type { TargetConfig } from '../../../shared/targets';
import { guardHost } from '../../security/outboundGuard';
import { DestinationError } from '../DestinationError';
import type { Logger } from '../../logger';
import type { Destination } from './Destination';
import type { SftpDestinationOptions } from './SftpDestination';

/** The host a target's uploads go to (null: a local folder). */
export function hostOf(config: TargetConfig): string | null {
  switch (config.kind) {
    case 'ftp':
    case 'sftp':
      return config.host;
    case 's3':
      return config.endpoint !== undefined
        ? new URL(config.endpoint).hostname
        : `s3.${config.region}.amazonaws.com`;
    case 'azure': {
      if (config.accountUrl !== undefined) return new URL(config.accountUrl).hostname;
      if (config.accountName !== undefined) return `${config.accountName}.blob.core.windows.net`;
      const endpoint = /BlobEndpoint=([^;]+)/i.exec(config.connectionString ?? '')?.[1];
      if (endpoint !== undefined) return new URL(endpoint).hostname;
      const account = /AccountName=([^;]+)/i.exec(config.connectionString ?? '')?.[1];
      return account === undefined ? null : `${account}.blob.core.windows.net`;
    }
    default:
      return null;
  }
}

/**
 * The destination for a target config, after the outbound guard checked its host. Client libraries load on first use: the S3 and Azure
 * SDKs alone take longer to import than the rest of the core takes to start.
 */
export async function createDestination(
  config: TargetConfig,
  logger: Logger,
  options: SftpDestinationOptions = {},
): Promise<Destination> {
  const host = hostOf(config);
  if (host !== null) {
    try {
      await guardHost(host, { allowPrivateNetwork: config.allowPrivateNetwork });
    } catch (error) {
      if (error instanceof StudioError && error.code === 'PermissionDenied')
        throw new DestinationError('connect', 'config', error.message);
      throw error;
    }
  }
  switch (config.kind) {
    case 'local':
      return new (await import('./LocalDestination')).LocalDestination(config);
    case 'ftp':
      return new (await import('./FtpDestination')).FtpDestination(config);
    case 'sftp':
      return new (await import('./SftpDestination')).SftpDestination(config, logger, options);
    case 's3':
      return new (await import('./S3Destination')).S3Destination(config);
    case 'azure':
      return new (await import('./AzureDestination')).AzureDestination(config);
  }
}
