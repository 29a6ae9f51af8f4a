import type { ShiiooClient } from '@shiioo/client'
import type { CreatedTokenView, IdentityService, PrincipalView, TokenView, WhoAmIView } from '@shiioo/orchestrator'
import { localOnly, remote } from './errors.js'

/** Principals and tokens on a server: each method one REST call, as the token's principal. */
export function remoteIdentity(client: ShiiooClient): IdentityService {
  const { api } = client
  const call = <T>(result: Parameters<ShiiooClient['data']>[0]) => remote(() => client.data(result)) as Promise<T>
  const principal = (ref: string) => ({ params: { path: { principal: ref } } })
  return {
    authenticate: () => Promise.reject(localOnly('checking a token')),
    bootstrap: () => Promise.reject(localOnly('making the first admin')),
    whoami: () => call<WhoAmIView>(api.GET('/api/me')),
    createPrincipal: (_caller, command) =>
      call<PrincipalView>(api.POST('/api/principals', { body: { ...command, roles: [...command.roles] } })),
    listPrincipals: async () => (await call<{ items: PrincipalView[] }>(api.GET('/api/principals'))).items,
    getPrincipal: (_caller, ref) => call<PrincipalView>(api.GET('/api/principals/{principal}', principal(ref))),
    setRoles: (_caller, ref, roles) =>
      call<PrincipalView>(
        api.PUT('/api/principals/{principal}/roles', { ...principal(ref), body: { roles: [...roles] } }),
      ),
    disablePrincipal: (_caller, ref, reason) =>
      call<PrincipalView>(
        api.POST('/api/principals/{principal}/disable', {
          ...principal(ref),
          body: reason === undefined ? {} : { reason },
        }),
      ),
    async createToken(_caller, command) {
      const made = await call<TokenView & { token: string }>(
        api.POST('/api/tokens', {
          body: {
            principal: command.principal,
            name: command.name,
            ...(command.expiresAt === undefined ? {} : { expiresAt: command.expiresAt }),
          },
        }),
      )
      const { token, ...view } = made
      return { token, view } satisfies CreatedTokenView
    },
    listTokens: async (_caller, request = {}) =>
      (
        await call<{ items: TokenView[] }>(
          api.GET('/api/tokens', {
            params: { query: request.principal === undefined ? {} : { principal: request.principal } },
          }),
        )
      ).items,
    revokeToken: (_caller, tokenId) =>
      call<TokenView>(api.POST('/api/tokens/{tokenId}/revoke', { params: { path: { tokenId } } })),
  }
}
